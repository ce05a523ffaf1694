"""The learning page and the insights page's before-and-after: pure, from handoff records and
learned entries to groups and tables.

A tagged handoff (handoff/learning.py) is grouped by what the agent knew when it handed off:
the first guideline matched on the handoff turn that acts (an observation only when none did),
the journey it was in (the handoff packet, handoff/packet.py) and the handoff's reason
category. An accepted change (handoff/learned.py)
remembers the group it came from; the insights page counts, per week, the handoffs with that
guideline and in that journey before and after it was accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from dashboard.formats import parse_time
from dashboard.model import Escalation
from handoff.learned import LearnedEntry
from handoff.learning import Why, read_tag
from handoff.packet import read_packet
from handoff.record import read_category

NO_GUIDELINE = "(no guideline)"
NO_JOURNEY = "(no journey)"


@dataclass(frozen=True)
class Tagged:
    """A resolved handoff the operator tagged."""

    session_id: str
    why: Why
    answer: str
    operator: str
    resolved_at: datetime | None
    guideline: str
    journey: str
    category: str


@dataclass(frozen=True)
class Group:
    guideline: str
    journey: str
    category: str
    handoffs: tuple[Tagged, ...]

    @property
    def title(self) -> str:
        return f"{self.guideline} · {self.journey} · {self.category}"

    @property
    def answers(self) -> list[str]:
        return [t.answer for t in self.handoffs if t.answer]


def _where(record: Mapping[str, Any]) -> tuple[str, str]:
    """The handoff's guideline (the first matched one that acts, else the first observation)
    and journey."""
    packet = read_packet(record)
    guidelines = packet["guidelines"] if packet else []
    acting = [g for g in guidelines if g["action"]] or guidelines
    journey = packet["journey"] if packet else None
    return (
        acting[0]["condition"] if acting else NO_GUIDELINE,
        journey["title"] if journey else NO_JOURNEY,
    )


def tagged(escalations: Iterable[Escalation]) -> list[Tagged]:
    found = []
    for escalation in escalations:
        record = escalation.record
        tag = read_tag(record)
        if tag is None or record.get("status") != "resolved":
            continue
        guideline, journey = _where(record)
        person = (record.get("learning") or {}).get("by") or record.get("resolved_by") or {}
        found.append(
            Tagged(
                session_id=escalation.session_id,
                why=tag.why,
                answer=tag.answer,
                operator=str(person.get("name") or person.get("id") or "–"),
                resolved_at=parse_time(record.get("resolved_at")),
                guideline=guideline,
                journey=journey,
                category=read_category(record).label,
            )
        )
    return found


def groups(rows: Iterable[Tagged], whys: Iterable[Why] | None = None) -> list[Group]:
    """The tagged handoffs by guideline, journey and category, the largest group first; with
    `whys`, only handoffs tagged with one of them."""
    wanted = set(whys) if whys is not None else set(Why)
    grouped: dict[tuple[str, str, str], list[Tagged]] = {}
    for row in rows:
        if row.why in wanted:
            grouped.setdefault((row.guideline, row.journey, row.category), []).append(row)
    return sorted(
        (Group(*key, tuple(found)) for key, found in grouped.items()),
        key=lambda g: (-len(g.handoffs), g.title),
    )


def group_frame(group: Group, session_link: Callable[[str], str]) -> pd.DataFrame:
    """One row per handoff of the group, newest first, with a link to its session page."""
    shown = sorted(
        group.handoffs,
        key=lambda t: t.resolved_at or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    return pd.DataFrame(
        [
            {
                "session": session_link(t.session_id),
                "why": t.why.label,
                "answer the AI should have given": t.answer or "–",
                "operator": t.operator,
                "resolved": t.resolved_at,
            }
            for t in shown
        ],
        columns=["session", "why", "answer the AI should have given", "operator", "resolved"],
    )


def proposal_body(
    group: Group,
    sessions: Sequence[str],
    fields: Mapping[str, Any],
    proposed_by: Mapping[str, str],
) -> dict[str, Any]:
    """What the agent's proposals route takes (handoff/learned.py `proposal`): the supervisor's
    fields, the sessions it came from and the group, so insights can follow the change."""
    return {
        **fields,
        "sessions": list(sessions),
        "proposed_by": dict(proposed_by),
        "group_guideline": "" if group.guideline == NO_GUIDELINE else group.guideline,
        "group_journey": "" if group.journey == NO_JOURNEY else group.journey,
        "group_category": group.category,
    }


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Before and after an accepted change


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _requested(escalation: Escalation) -> datetime:
    return parse_time(escalation.record.get("requested_at")) or escalation.created


def _scopes(entry: LearnedEntry) -> list[tuple[str, str]]:
    scopes = []
    if entry.origin.guideline:
        scopes.append(("guideline", entry.origin.guideline))
    if entry.origin.journey:
        scopes.append(("journey", entry.origin.journey))
    return scopes


def _in_scope(escalation: Escalation, scope: str, name: str) -> bool:
    packet = read_packet(escalation.record)
    if packet is None:
        return False
    if scope == "journey":
        return bool(packet["journey"] and packet["journey"]["title"] == name)
    return any(g["condition"] == name for g in packet["guidelines"])


def change_label(entry: LearnedEntry) -> str:
    return entry.condition if entry.kind == "guideline" else f"Term: {entry.name}"


def weekly(escalations: Sequence[Escalation], entry: LearnedEntry, today: date) -> pd.DataFrame:
    """Handoffs per week with the change's guideline and in its journey, each week split at the
    moment the change was accepted: (week, period) rows, zero weeks included."""
    accepted_at = parse_time(entry.origin.decided_at)
    scopes = _scopes(entry)
    columns = ["week", "period", *(f"{scope}: {name}" for scope, name in scopes)]
    if accepted_at is None or not scopes:
        return pd.DataFrame(columns=columns)
    counts: dict[tuple[date, str], dict[str, int]] = {}
    first = monday(accepted_at.date())
    for escalation in escalations:
        requested = _requested(escalation)
        week = monday(requested.date())
        period = "before" if requested < accepted_at else "after"
        for scope, name in scopes:
            if _in_scope(escalation, scope, name):
                first = min(first, week)
                row = counts.setdefault((week, period), {})
                row[f"{scope}: {name}"] = row.get(f"{scope}: {name}", 0) + 1
    rows = []
    week = first
    accepted_week = monday(accepted_at.date())
    while week <= max(monday(today), accepted_week):
        periods = (
            ["before", "after"]
            if week == accepted_week
            else ["before" if week < accepted_week else "after"]
        )
        for period in periods:
            found = counts.get((week, period), {})
            rows.append(
                {"week": week, "period": period, **{c: found.get(c, 0) for c in columns[2:]}}
            )
        week += timedelta(days=7)
    return pd.DataFrame(rows, columns=columns)


def before_after(
    escalations: Sequence[Escalation], entries: Iterable[LearnedEntry], today: date
) -> pd.DataFrame:
    """Per accepted change and each of its guideline and journey: handoffs per week before
    it was accepted (from the first week with one) and after (to this week)."""
    rows = []
    for entry in entries:
        if entry.status != "accepted":
            continue
        table = weekly(escalations, entry, today)
        accepted_at = parse_time(entry.origin.decided_at)
        if table.empty or accepted_at is None:
            continue
        for column in table.columns[2:]:
            before = table[table["period"] == "before"]
            after = table[table["period"] == "after"]
            weeks_before = max(1, before["week"].nunique())
            weeks_after = max(1, after["week"].nunique())
            rows.append(
                {
                    "change": change_label(entry),
                    "accepted": accepted_at.strftime("%Y-%m-%d %H:%M UTC"),
                    "handoffs with": column,
                    "before, per week": round(int(before[column].sum()) / weeks_before, 2),
                    "weeks before": weeks_before,
                    "after, per week": round(int(after[column].sum()) / weeks_after, 2),
                    "weeks after": weeks_after,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "change",
            "accepted",
            "handoffs with",
            "before, per week",
            "weeks before",
            "after, per week",
            "weeks after",
        ],
    )
