"""The handoff packet's pure pieces: building it bounded, reading it defensively, rendering it
in the Slack root message and the dashboard, and routing on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from dashboard.packet_summary import packet_summary
from handoff import packet as packets
from handoff import record as records
from slack_kit import root_message
from slack_kit.masking import Masker
from slack_kit.routing import RouteRule, Routes, parse_routes
from slack_kit.text import SECTION_TEXT_LIMIT
from tests.test_slack_blocks import (
    DASHBOARD,
    NOW,
    SESSION,
    assert_inert,
    assert_within_limits,
    width,
)

HOSTILE = "<!channel> <@U123> <https://evil|bank> &amp; \u202e*bold*"


def tool_event(tool_id: str, arguments: dict[str, Any], data: Any) -> dict[str, Any]:
    return {"tool_calls": [{"tool_id": tool_id, "arguments": arguments, "result": {"data": data}}]}


POLICY_EVENT = tool_event(
    "built-in:get_policy_details", {}, {"found": True, "summary": "Policy POL-1001 covers theft."}
)
CLAIM_EVENT = tool_event(
    "built-in:file_claim", {"claim_details": "hit a tree"}, {"filed": True, "claim_id": "C-1"}
)
HANDOFF_EVENT = tool_event(
    "built-in:initiate_human_handoff", {"reason": "asked"}, {"handoff": "started"}
)


def a_packet(**overrides: Any) -> packets.HandoffPacket:
    built = packets.build_packet(
        ("File an Insurance Claim", "Ask the customer to describe the accident"),
        [("The customer asks for a human", "Call initiate_human_handoff"), ("Vague request", None)],
        packets.tool_calls_from_events([POLICY_EVENT, CLAIM_EVENT, HANDOFF_EVENT]),
    )
    return packets.HandoffPacket(**{**built, **overrides})  # type: ignore[typeddict-item]


def record_with(packet: Any, reason: str = "customer asked for a human") -> dict[str, Any]:
    return {**records.request_handoff(None, reason, NOW, "pending"), "packet": packet}


# --- building and reading --------------------------------------------------------------------


def test_tool_calls_name_the_tool_with_its_arguments_and_result_but_not_the_handoff() -> None:
    calls = packets.tool_calls_from_events(
        [POLICY_EVENT, CLAIM_EVENT, HANDOFF_EVENT, {"junk": 1}, "x"]
    )
    assert calls == [
        {
            "tool": "get_policy_details",
            "arguments": {},
            "result_summary": "Policy POL-1001 covers theft.",
        },
        {
            "tool": "file_claim",
            "arguments": {"claim_details": "hit a tree"},
            # No summary written by the tool: its data, as compact JSON.
            "result_summary": '{"claim_id": "C-1", "filed": true}',
        },
    ]


def test_packet_is_bounded_and_json_safe_whatever_the_tools_returned() -> None:
    huge = "x" * 10_000
    events = [
        tool_event(
            f"s:tool{i}", {f"arg{j}": huge for j in range(20)}, {"blob": huge, "when": object()}
        )
        for i in range(30)
    ]
    packet = packets.build_packet(
        (huge, huge),
        [(f"condition {i} {huge}", huge) for i in range(30)],
        packets.tool_calls_from_events(events),
    )
    encoded = json.dumps(packet)  # object() in the data was stringified, not a crash
    assert len(encoded) < 40_000
    assert len(packet["guidelines"]) == packets.MAX_GUIDELINES
    assert [c["tool"] for c in packet["tool_calls"]] == [f"tool{i}" for i in range(22, 30)]
    assert all(len(c["arguments"]) == packets.MAX_ARGUMENTS for c in packet["tool_calls"])
    assert packet["journey"] and packet["journey"]["step"].endswith("…")
    assert all(
        len(v) <= packets.MAX_TEXT for c in packet["tool_calls"] for v in c["arguments"].values()
    )


def test_guidelines_keep_their_order_without_duplicates() -> None:
    packet = packets.build_packet(
        None, [("a", "do a"), ("b", None), ("a", "do a"), ("", "nothing")], []
    )
    assert packet["guidelines"] == [
        {"condition": "a", "action": "do a"},
        {"condition": "b", "action": ""},
    ]
    assert packet["journey"] is None


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "packet",
        [],
        {"journey": "x", "guidelines": "y", "tool_calls": {"a": 1}},
        {"guidelines": [1, None]},
    ],
)
def test_malformed_packets_read_as_empty_or_none(raw: Any) -> None:
    read = packets.read_packet({"packet": raw})
    if isinstance(raw, dict):
        assert read == {"journey": None, "guidelines": [], "tool_calls": []}
    else:
        assert read is None


def test_a_repeated_handoff_keeps_the_first_packet() -> None:
    first = records.request_handoff(None, "asked", NOW, "pending", a_packet())
    again = records.request_handoff(first, "asked again", NOW, "pending", a_packet(journey=None))
    assert again is first and again["packet"]["journey"] is not None


# --- the Slack root message ------------------------------------------------------------------


UNMASKED = Masker.of([])


def root_blocks(record: dict[str, Any], masker: Masker = UNMASKED) -> list[dict[str, Any]]:
    view = root_message.escalation_view(
        SESSION, "Ann", record, [("Customer (Ann)", "help")], DASHBOARD, masker=masker
    )
    return root_message.render(view)[1]


def sections(blocks_: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks_ if b["type"] == "section"]


def test_root_message_shows_the_journey_step_guidelines_and_tool_calls() -> None:
    shown = "\n".join(sections(root_blocks(record_with(a_packet()))))
    assert (
        "*Journey:* File an Insurance Claim – step: Ask the customer to describe the accident"
        in shown
    )
    assert "• *When* The customer asks for a human *→* Call initiate_human_handoff" in shown
    assert "• *When* Vague request\n" in shown
    assert "• *get_policy_details*: Policy POL-1001 covers theft." in shown
    assert "• *file_claim*(claim_details=hit a tree): " in shown
    assert "initiate_human_handoff*" not in shown


def test_tool_arguments_and_results_are_masked_in_the_root_message() -> None:
    card = "4242 4242 4242 4242"
    packet = packets.build_packet(
        None,
        [],
        packets.tool_calls_from_events(
            [
                tool_event(
                    "file_claim",
                    {"claim_details": f"stolen card {card}"},
                    {"summary": f"Card {card} noted"},
                )
            ]
        ),
    )
    shown = "\n".join(sections(root_blocks(record_with(packet), Masker.of(["card"]))))
    assert "file_claim" in shown and "4242 4242" not in shown and "••••4242" in shown


def test_root_message_without_a_packet_has_no_packet_sections() -> None:
    plain = root_blocks(dict(records.request_handoff(None, "asked", NOW, "pending")))
    assert not [s for s in sections(plain) if "Tool calls" in s or "What the AI" in s]


def test_hostile_and_huge_packet_stays_inert_and_within_slack_limits() -> None:
    long = (HOSTILE + " ") * 400
    packet = packets.build_packet(
        (HOSTILE, long),
        [(long, long) for _ in range(20)],
        packets.tool_calls_from_events(
            [tool_event(HOSTILE, {HOSTILE: long}, {"summary": long}) for _ in range(20)]
        ),
    )
    # Written by anyone with the operator token: uncapped values must be capped on reading too.
    packet["tool_calls"].append({"tool": long, "arguments": {long: long}, "result_summary": long})
    blocks_ = root_blocks(record_with(packet))
    assert_within_limits(blocks_)
    packet_sections = [
        s for s in sections(blocks_) if s.startswith(("*What the AI", "*Tool calls"))
    ]
    assert len(packet_sections) == 2
    for text in packet_sections:
        assert_inert(text)
        assert "\u202e" not in text and "&amp;amp;" in text
    assert packet_sections[0].endswith("…") and width(packet_sections[0]) <= SECTION_TEXT_LIMIT


# --- the dashboard ---------------------------------------------------------------------------


def test_dashboard_summary_lists_the_packet_as_plain_lines() -> None:
    summary = packet_summary(record_with(a_packet(tool_calls=[*a_packet()["tool_calls"]])))
    assert summary is not None
    assert (
        summary.journey
        == "File an Insurance Claim – step: Ask the customer to describe the accident"
    )
    assert summary.guidelines == (
        "When the customer asks for a human → Call initiate_human_handoff",
        "When vague request",
    )
    assert summary.tool_calls == (
        "get_policy_details(): Policy POL-1001 covers theft.",
        'file_claim(claim_details=hit a tree): {"claim_id": "C-1", "filed": true}',
    )
    assert packet_summary({"status": "waiting"}) is None


# --- routing ---------------------------------------------------------------------------------


ROUTES = parse_routes(
    "journey:file an insurance claim=C0CLAIMS; reason:claim=C0CLAIMS; label:vip=C0VIP; reason:POLICY=C0POLICY",
    default="C0DEFAULT",
)


@pytest.mark.parametrize(
    ("reason", "packet", "labels", "channel"),
    [
        ("customer asked for a human", a_packet(), (), "C0CLAIMS"),  # journey, case-insensitive
        ("Dispute about a CLAIM", None, ("vip",), "C0CLAIMS"),  # first match wins
        ("customer asked for a human", None, ("vip", "handoff"), "C0VIP"),
        ("question about my policy", None, ("VIP",), "C0POLICY"),  # labels match exactly
        ("customer asked for a human", a_packet(journey=None), (), "C0DEFAULT"),
    ],
)
def test_route_tries_rules_in_order_and_falls_back_to_the_default(
    reason: str, packet: Any, labels: tuple[str, ...], channel: str
) -> None:
    assert ROUTES.route(record_with(packet, reason), labels) == channel


def test_routed_channels_are_listed_once_default_first() -> None:
    assert ROUTES.channels == ("C0DEFAULT", "C0CLAIMS", "C0VIP", "C0POLICY")
    assert Routes((RouteRule("label", "x", "C0DEFAULT"),), "C0DEFAULT").channels == ("C0DEFAULT",)


@dataclass
class FakeEvent:
    """The fields of a Parlant event that handoff_turn_start reads."""

    offset: int
    kind: str
    trace_id: str
    data: Any


def ack(offset: int, trace: str) -> FakeEvent:
    return FakeEvent(offset, "status", trace, {"status": "acknowledged", "data": {}})


def handoff_call(offset: int, trace: str) -> FakeEvent:
    call = {"tool_id": f"svc:{packets.HANDOFF_TOOL}", "arguments": {}, "result": {}}
    return FakeEvent(offset, "tool", trace, {"tool_calls": [call]})


def test_the_thread_takes_over_at_the_acknowledgement_of_the_last_handoff_turn() -> None:
    events = [
        ack(1, "t1"),
        FakeEvent(2, "tool", "t1", {"tool_calls": [{"tool_id": "svc:get_open_claims"}]}),
        ack(4, "t2"),
        ack(6, "t3"),  # another turn started while t2 was running
        handoff_call(7, "t2"),
    ]
    assert packets.handoff_turn_start(events) == 4
    # A later handoff (after a handback) moves the boundary to its own turn.
    assert packets.handoff_turn_start([*events, ack(9, "t4"), handoff_call(10, "t4")]) == 9
    # Without a matching acknowledgement: the latest one before, else the tool event itself.
    assert packets.handoff_turn_start([ack(3, "x"), handoff_call(5, "y")]) == 3
    assert packets.handoff_turn_start([handoff_call(5, "y")]) == 5
    assert packets.handoff_turn_start(events[:3]) is None


def test_the_thread_starts_where_the_handoff_recorded_it_else_after_the_turns_acknowledgement() -> (
    None
):
    events = [ack(1, "t1"), handoff_call(3, "t1")]
    # Recorded by the handoff: whatever the events say (a cancelled turn stores no tool event).
    assert packets.thread_start({"thread_from": 7}, events) == 7
    assert packets.thread_start({"thread_from": 0}, []) == 0
    # Older records: just after the acknowledgement of the handoff turn.
    assert packets.thread_start({}, events) == 2
    assert packets.thread_start(None, events) == 2
    assert packets.thread_start({}, [ack(1, "t1")]) is None
    # Not an offset: ignored rather than trusted.
    for wrong in (-1, True, "7", 7.0, None):
        assert packets.recorded_thread_start({"thread_from": wrong}) is None
        assert packets.thread_start({"thread_from": wrong}, events) == 2
