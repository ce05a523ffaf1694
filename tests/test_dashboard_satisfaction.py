"""The insights page's satisfaction tables (dashboard/satisfaction.py): pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from dashboard import satisfaction
from dashboard.model import Escalation
from handoff.record import HandoffRecord


def escalation(session: str, answer: dict[str, Any] | None, **record: Any) -> Escalation:
    full: dict[str, Any] = {
        "status": "resolved",
        "reason_category": "complaint",
        "resolved_by": {"id": "slack:U1", "name": "Dana"},
        "slack": {"state": "posted", "channel": "C0CLAIMS", "ts": "1.0"},
        "satisfaction_asked_at": "2026-12-07T09:00:00+00:00",
        **record,
    }
    if answer is not None:
        full["satisfaction"] = answer
    return Escalation(
        session, "cust", "auto", datetime(2026, 12, 7, tzinfo=UTC), cast(HandoffRecord, full)
    )


ESCALATIONS = [
    escalation("a", {"rating": 5, "comment": "great", "at": "2026-12-07T10:00:00+00:00"}),
    escalation(
        "b",
        {"rating": 2, "comment": "", "at": "2026-12-01T10:00:00+00:00"},
        resolved_by={"id": "slack:U2", "name": "Lee"},
        reason_category="customer_asked",
    ),
    escalation("c", {"skipped": True}),
    escalation("d", None, satisfaction_asked_at=None),
    escalation("e", {"rating": 9, "at": "2026-12-07T10:00:00+00:00"}),  # not a rating
]


def test_the_summary_counts_asked_rated_and_passed_over() -> None:
    summary = satisfaction.summary(ESCALATIONS)
    assert (summary.asked, summary.rated, summary.skipped) == (4, 2, 1)
    assert summary.average == 3.5


def test_ratings_by_operator_reason_channel_and_week_with_the_comments() -> None:
    rows = satisfaction.rated(ESCALATIONS)
    assert {r.session_id for r in rows} == {"a", "b"}
    per_operator = satisfaction.by(rows, "operator")
    assert per_operator.loc["Dana", "average rating"] == 5
    assert per_operator.loc["Lee", "ratings"] == 1
    assert set(satisfaction.by(rows, "category").index) == {"complaint", "customer_asked"}
    assert list(satisfaction.by(rows, "channel").index) == ["C0CLAIMS"]
    assert set(satisfaction.by(rows, "week").index) == {date(2026, 12, 7), date(2026, 11, 30)}
    assert satisfaction.comments(rows)["comment"].tolist() == ["great"]
    assert satisfaction.by([], "week").empty
