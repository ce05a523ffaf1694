"""SLACK_ROUTES parsing and matching (slack_kit/routing.py), through its public functions."""

from __future__ import annotations

import pytest

from slack_kit.routing import RouteRule, RoutesError, is_channel_id, parse_routes, parse_rule


@pytest.mark.parametrize(
    ("value", "is_id"),
    [
        ("C0123ABCD", True),
        ("G0PRIVATE", True),
        ("c0123abcd", False),
        ("U0123", False),
        ("C", False),
    ],
)
def test_channel_ids(value: str, is_id: bool) -> None:
    assert is_channel_id(value) is is_id


def test_a_rule_splits_at_the_first_colon_and_the_last_equals_sign() -> None:
    rule = parse_rule("  REASON : refund: a=b = C0REFUNDS ")
    assert rule == RouteRule(kind="reason", value="refund: a=b", channel="C0REFUNDS")


@pytest.mark.parametrize(
    "text",
    ["reason claim=C0X", "reason:claim C0X", "topic:claim=C0X", "reason: =C0X", "=C0X", ":x=C0X"],
)
def test_malformed_rules_say_how_to_write_one(text: str) -> None:
    with pytest.raises(RoutesError) as raised:
        parse_rule(text)
    assert str(raised.value) == (
        f"rule {text.strip()!r} is malformed; write kind:value=CHANNEL_ID with kind one of "
        "reason, journey, label, rules separated by ';' (e.g. journey:File an Insurance "
        "Claim=C0CLAIMS; reason:policy=C0POLICY; label:vip=C0VIP)"
    )


def test_a_rule_to_something_else_than_a_channel_says_where_to_find_the_id() -> None:
    with pytest.raises(RoutesError) as raised:
        parse_rule("label:vip=#vip")
    assert str(raised.value) == (
        "rule 'label:vip=#vip' routes to '#vip', which is not a channel id; "
        "use the channel's id like C0123ABCD (channel details → About)"
    )


def test_routes_keep_their_order_skip_empty_parts_and_keep_the_default() -> None:
    routes = parse_routes(";label:vip=C0VIP ;; reason:claim=C0CLAIMS;", default="C0DEFAULT")
    assert routes.rules == (
        RouteRule("label", "vip", "C0VIP"),
        RouteRule("reason", "claim", "C0CLAIMS"),
    )
    assert routes.default == "C0DEFAULT"
    assert parse_routes("", "C0DEFAULT").rules == ()


def test_a_reason_rule_never_matches_a_record_without_a_reason() -> None:
    rule = RouteRule("reason", "X", "C0X")
    assert not rule.matches({}, ())
    assert not rule.matches({"reason": None}, ())
    assert rule.matches({"reason": "an x-ray"}, ())


def test_a_label_rule_matches_one_of_the_labels_exactly() -> None:
    rule = RouteRule("label", "vip", "C0VIP")
    assert rule.matches({}, iter(["handoff", "vip"]))
    assert not rule.matches({}, ["vips"])
    routes = parse_routes("label:vip=C0VIP", "C0DEFAULT")
    # route() reads the labels once per rule: a one-shot iterator must work for every rule.
    assert parse_routes("label:a=C0A; label:vip=C0VIP", "C0D").route({}, iter(["vip"])) == "C0VIP"
    assert routes.route({}) == "C0DEFAULT"
