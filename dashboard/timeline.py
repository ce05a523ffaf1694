"""A handoff's milestones (handed off, claimed, first reply, returned, resolved) in order
of time, for the session page and the transcript export. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd  # type: ignore[import-untyped]

from dashboard.formats import format_time, parse_time, person_name
from handoff.record import HandoffRecord


@dataclass(frozen=True)
class TimelineStep:
    step: str
    at: datetime | None
    by: str


def first_claim_time(record: HandoffRecord) -> datetime | None:
    """When the handoff was first claimed (the SLA clock); records written before
    `first_claimed_at` existed kept that time in `claimed_at`."""
    return parse_time(record.get("first_claimed_at") or record.get("claimed_at"))


def _claim_steps(record: HandoffRecord) -> list[TimelineStep]:
    first = first_claim_time(record)
    latest = parse_time(record.get("claimed_at"))
    assignee = person_name(record.get("claimed_by"))
    if latest is None or latest == first:
        return [TimelineStep("claimed", first, assignee)]
    # Only the current assignee is recorded; who claimed first is not.
    return [TimelineStep("claimed", first, ""), TimelineStep("claimed again", latest, assignee)]


def timeline(record: HandoffRecord) -> list[TimelineStep]:
    """The handoff's milestones that happened, in order of time."""
    steps = [
        TimelineStep("handed off", parse_time(record.get("requested_at")), "AI agent"),
        *_claim_steps(record),
        TimelineStep(
            "first human reply",
            parse_time(record.get("first_human_reply_at")),
            # Records from before `first_human_reply_by` existed: the reply claimed the handoff.
            person_name(record.get("first_human_reply_by")) or "",
        ),
        TimelineStep(
            "returned to AI",
            parse_time(record.get("returned_at")),
            person_name(record.get("returned_by")),
        ),
        TimelineStep(
            "resolved",
            parse_time(record.get("resolved_at")),
            person_name(record.get("resolved_by")),
        ),
    ]
    happened = [s for s in steps if s.at is not None]
    return sorted(happened, key=lambda s: s.at or datetime.min.replace(tzinfo=UTC))


def timeline_frame(record: HandoffRecord) -> pd.DataFrame:
    steps = timeline(record)
    return pd.DataFrame(
        {
            "step": [s.step for s in steps],
            "at": [format_time(s.at) for s in steps],
            "by": [s.by for s in steps],
        }
    )
