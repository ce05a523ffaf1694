"""The insights page's copilot figures (dashboard/copilot.py): pure, from session events."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from parlant.core.sessions import EventKind

from dashboard import copilot
from dashboard.model import RawEvent
from handoff.copilot_events import (
    HeldReply,
    draft_offered_data,
    draft_outcome_metadata,
    read_draft_outcome,
    read_held,
)

MONDAY = datetime(2026, 12, 7, 10, tzinfo=UTC)
LAST_WEEK = datetime(2026, 12, 2, 10, tzinfo=UTC)
DANA = {"id": "slack:U1", "name": "Dana", "origin": "slack"}
LEE = {"id": "dash:lee", "name": "Lee", "origin": "dashboard"}
SLACK = {"slack": {"channel": "C1", "ts": "5.0"}}
KEY = "slack:C1:5.0"


def event(
    offset: int,
    kind: str,
    at: datetime = MONDAY,
    source: str = "human_agent",
    data: Any = None,
    **metadata: Any,
) -> RawEvent:
    return RawEvent(offset, source, kind, at, data or {}, metadata)


def offered(offset: int, at: datetime = MONDAY) -> RawEvent:
    return event(offset, "custom", at, data=draft_offered_data(f"{offset}.0"))


def decided(offset: int, outcome: str, operator: dict[str, str], at: datetime = MONDAY) -> RawEvent:
    return event(
        offset,
        "custom",
        at,
        data={"type": "internal_note", "text": "Draft …"},
        operator=operator,
        **draft_outcome_metadata(outcome, f"{offset}.0"),
    )


def held(offset: int, rule: str, operator: dict[str, str], key: str | None) -> RawEvent:
    data = HeldReply(rule, operator["id"], operator["name"], key).as_event_data()
    return event(offset, "custom", source="system", data=data)


def as_ai(offset: int, operator: dict[str, str], **metadata: Any) -> RawEvent:
    return event(
        offset,
        "message",
        source="human_agent_on_behalf_of_ai_agent",
        data={"message": "…"},
        operator=operator,
        **metadata,
    )


def test_drafts_per_week_and_per_operator() -> None:
    events = [
        offered(1, LAST_WEEK),
        decided(2, "dismissed", LEE, LAST_WEEK),
        offered(3),
        decided(4, "sent", DANA),
        offered(5),
        decided(6, "edited", DANA),
        offered(7),  # not decided yet
        event(8, "custom", data={"type": "internal_note", "text": "an ordinary note"}),
    ]
    steps = copilot.draft_steps("s", events)
    week = copilot.drafts_per_week(steps)
    assert week.loc[date(2026, 12, 7)].to_dict() == {
        "offered": 3,
        "sent as is": 1,
        "edited": 1,
        "dismissed": 0,
    }
    assert week.loc[date(2026, 11, 30)].to_dict() == {
        "offered": 1,
        "sent as is": 0,
        "edited": 0,
        "dismissed": 1,
    }
    operators = copilot.drafts_per_operator(steps)
    assert operators.loc["Dana"].to_dict() == {"sent as is": 1, "edited": 1, "dismissed": 0}
    assert operators.loc["Lee", "dismissed"] == 1
    assert copilot.drafts_per_week([]).empty


def test_a_held_reply_then_sent_anyway_edited_or_not_sent() -> None:
    other = {"slack": {"channel": "C1", "ts": "9.0"}}
    events = [
        held(1, "guaranteed_approval", DANA, KEY),
        held(2, "guaranteed_approval", DANA, KEY),  # the same reply POSTed again
        as_ai(3, DANA, sent_despite_rule="guaranteed_approval", **SLACK),
        held(4, "sensitive_data", DANA, "slack:C1:9.0"),
        as_ai(5, DANA, **other),  # edited: went through without an override
        held(6, "admit_liability", LEE, None),  # from the dashboard: no origin
        as_ai(7, DANA, **SLACK),  # someone else's reply says nothing of Lee's
    ]
    rows = copilot.holds("s", events)
    assert [(h.rule, h.then) for h in rows] == [
        ("guaranteed_approval", "sent anyway"),
        ("sensitive_data", "edited"),
        ("admit_liability", "not sent"),
    ]
    per_rule = copilot.holds_per_rule(rows)
    assert per_rule.loc["guaranteed_approval"].to_dict() == {
        "held": 1,
        "sent anyway": 1,
        "edited": 0,
        "not sent": 0,
    }
    assert per_rule["held"].sum() == 3
    per_week = copilot.holds_per_week(rows)
    assert per_week.loc[(date(2026, 12, 7), "sensitive_data"), "edited"] == 1
    assert copilot.holds_per_rule([]).empty


def test_a_dashboard_hold_is_followed_by_the_same_operators_next_reply() -> None:
    rows = copilot.holds("s", [held(1, "phone_number", LEE, None), as_ai(2, LEE)])
    assert [h.then for h in rows] == ["edited"]


def test_records_read_back_and_others_are_not_records() -> None:
    assert read_draft_outcome(draft_outcome_metadata("edited", "1.0")) == "edited"
    assert read_draft_outcome({"draft": {"outcome": "lost"}}) is None
    assert read_held({"type": "internal_note"}) is None
    hold = HeldReply("phone_number", "slack:U1", "Dana", KEY)
    assert read_held(hold.as_event_data()) == hold
    assert "message" not in hold.as_event_data()  # the refused text is never kept


def test_the_records_are_never_the_ais_business() -> None:
    # Imported here: agent.context_filter imports Parlant's engine (2 s of CPU), and every
    # xdist worker collects this module.
    from agent.context_filter import is_internal_note

    for data in (
        draft_offered_data("1.0"),
        HeldReply("phone_number", "u", "U", None).as_event_data(),
    ):
        assert is_internal_note(SimpleNamespace(kind=EventKind.CUSTOM, data=data))
