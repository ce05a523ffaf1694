"""Customer satisfaction on the insights page: the ratings customers gave after a resolve
(handoff/satisfaction.py), by operator, reason category, Slack channel and week, with their
comments. Pure: from the handoff records to tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd  # type: ignore[import-untyped]

from dashboard.model import Escalation
from handoff.record import read_category

Grouping = Literal["operator", "category", "channel", "week"]


@dataclass(frozen=True)
class Rated:
    session_id: str
    rating: int
    comment: str
    at: datetime
    operator: str
    category: str
    channel: str

    @property
    def week(self) -> date:
        """The Monday of the week the customer answered."""
        day = self.at.date()
        return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class SatisfactionSummary:
    asked: int  # resolved handoffs whose customer was asked
    rated: int
    skipped: int
    average: float | None


def rated(escalations: Iterable[Escalation]) -> list[Rated]:
    found = []
    for escalation in escalations:
        record = escalation.record
        answer = record.get("satisfaction") or {}
        rating = answer.get("rating")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            continue
        try:
            at = datetime.fromisoformat(str(answer.get("at")))
        except ValueError:
            continue
        person = record.get("resolved_by") or record.get("claimed_by") or {}
        found.append(
            Rated(
                escalation.session_id,
                rating,
                str(answer.get("comment") or ""),
                at,
                str(person.get("name") or person.get("id") or "–"),
                read_category(record).value,
                str((record.get("slack") or {}).get("channel") or "–"),
            )
        )
    return found


def summary(escalations: Sequence[Escalation]) -> SatisfactionSummary:
    records = [e.record for e in escalations]
    asked = [r for r in records if r.get("satisfaction_asked_at")]
    ratings = [r.rating for r in rated(escalations)]
    skipped = sum(1 for r in asked if (r.get("satisfaction") or {}).get("skipped"))
    return SatisfactionSummary(
        asked=len(asked),
        rated=len(ratings),
        skipped=skipped,
        average=sum(ratings) / len(ratings) if ratings else None,
    )


def by(rows: Iterable[Rated], grouping: Grouping) -> pd.DataFrame:
    """Average rating and how many, per operator, category, channel or week."""
    frame = pd.DataFrame(
        [{grouping: getattr(r, grouping), "rating": r.rating} for r in rows],
        columns=[grouping, "rating"],
    )
    if frame.empty:
        return pd.DataFrame(columns=["average rating", "ratings"])
    grouped = frame.groupby(grouping)["rating"].agg(["mean", "count"])
    grouped.columns = ["average rating", "ratings"]
    grouped["average rating"] = grouped["average rating"].round(2)
    return grouped.sort_index()


def comments(rows: Iterable[Rated]) -> pd.DataFrame:
    """The comments, newest first."""
    shown = sorted((r for r in rows if r.comment), key=lambda r: r.at, reverse=True)
    return pd.DataFrame(
        [
            {
                "answered": r.at.strftime("%Y-%m-%d %H:%M UTC"),
                "rating": r.rating,
                "comment": r.comment,
                "operator": r.operator,
                "category": r.category,
            }
            for r in shown
        ],
        columns=["answered", "rating", "comment", "operator", "category"],
    )
