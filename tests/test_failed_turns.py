"""The failed-turn record (handoff/failed_turn.py) and the dashboard's failed-turns rows and
figures (dashboard/failed_turns.py), without a server; tests/test_ai_failure.py drives the page
against an agent whose model fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.failed_turns import failed_turn_rows, failed_turn_summary, failed_turns_frame
from dashboard.model import RawEvent
from handoff.failed_turn import AI_TURN_FAILED, FailedTurn, FailureCause, read_failed_turn

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def event(offset: int, at: datetime, data: object, kind: str = "custom") -> RawEvent:
    return RawEvent(offset=offset, source="ai_agent", kind=kind, created=at, data=data)


def test_a_record_reads_back_and_anything_else_is_not_one() -> None:
    turn = FailedTurn(FailureCause.DEADLINE, "InternalServerError (HTTP 500)", handed_off=True)
    assert read_failed_turn(turn.as_event_data()) == turn
    assert read_failed_turn({"type": "internal_note", "text": "x"}) is None
    assert read_failed_turn("ai_turn_failed") is None
    # A cause this dashboard does not know yet is still a failure, and never "handed off"
    # unless the record says so.
    assert read_failed_turn({"type": AI_TURN_FAILED, "cause": "new"}) == FailedTurn(
        FailureCause.ERROR, None, handed_off=False
    )


def test_rows_newest_first_with_cause_handoff_and_link() -> None:
    handed = FailedTurn(FailureCause.NO_REPLY, None, handed_off=True)
    stranded = FailedTurn(FailureCause.ERROR, "APIConnectionError", handed_off=False)
    events = [
        event(1, NOW - timedelta(days=2), handed.as_event_data()),
        event(2, NOW - timedelta(days=2), {"type": "internal_note"}),
        event(3, NOW - timedelta(hours=1), stranded.as_event_data()),
        event(4, NOW, {"message": "hi"}, kind="message"),
    ]
    rows = failed_turn_rows("s1", "alice", events)

    frame = failed_turns_frame(rows, lambda s: f"https://dash/session?session={s}")

    assert frame["cause"].tolist() == ["error", "no reply"]
    assert frame["handed off"].tolist() == ["no", "yes"]
    assert frame["error"].tolist() == ["APIConnectionError", ""]
    assert set(frame["transcript"]) == {"https://dash/session?session=s1"}
    summary = failed_turn_summary(rows, NOW)
    assert (summary.total, summary.last_day, summary.not_handed_off) == (2, 1, 1)
    assert failed_turns_frame([], str).empty
