"""The queue page's rows: built from the open and recent handoffs, filtered, counted, as a
table and as CSV. Pure: no I/O, no Streamlit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from dashboard.customer_labels import customer_label
from dashboard.formats import (
    UNKNOWN_STATUS,
    format_age,
    format_time,
    parse_time,
    person_name,
    safe_url,
)
from dashboard.model import Escalation
from dashboard.sla_badges import SLA_BADGES, sla_badge
from handoff.record import ReasonCategory, read_category
from handoff.sla import SlaSettings, sla_view

# Most urgent first: a waiting customer has nobody yet, a claimed one has somebody.
STATUS_ORDER: Mapping[str, int] = {"waiting": 0, "claimed": 1, "returned": 2, "resolved": 3}


# Statuses in which a customer is still waiting for a person to finish with them.
OPEN_STATUSES = frozenset({"waiting", "claimed"})


@dataclass(frozen=True)
class QueueRow:
    session_id: str
    status: str
    reason: str
    requested_at: datetime | None
    age_seconds: float
    assignee: str
    slack_url: str | None
    session_url: str
    customer_id: str
    sla: str = ""
    category: str = ReasonCategory.OTHER.label
    customer: str = ""

    @property
    def waiting_seconds(self) -> float | None:
        """Time since the handoff while the customer waits for a person; None once closed."""
        return self.age_seconds if self.status in OPEN_STATUSES else None


def slack_backlog_lines(channels: Mapping[str, tuple[int, float]]) -> list[str]:
    """One line per Slack channel behind, the longest wait first."""
    behind = sorted(((c, n, wait) for c, (n, wait) in channels.items()), key=lambda i: -i[2])
    return [
        f"Slack channel {channel} is behind: {waiting} customer "
        f"message{'s' if waiting != 1 else ''} not yet in its threads, the oldest waiting "
        f"{format_age(wait)}. Operators there read them late; the transcripts here are current."
        for channel, waiting, wait in behind
    ]


def queue_rows(
    escalations: Iterable[Escalation],
    now: datetime,
    session_link: Callable[[str], str],
    sla: SlaSettings | None = None,
    customer_names: Mapping[str, str] | None = None,
) -> list[QueueRow]:
    """Queue rows, most urgent first: by status, then the longest-waiting handoff first."""
    rows = []
    for escalation in escalations:
        record = escalation.record
        requested = parse_time(record.get("requested_at")) or escalation.created
        slack = record.get("slack") or {}
        rows.append(
            QueueRow(
                session_id=escalation.session_id,
                status=str(record.get("status") or UNKNOWN_STATUS),
                reason=str(record.get("reason") or ""),
                requested_at=requested,
                age_seconds=(now - requested).total_seconds(),
                assignee=person_name(record.get("claimed_by")),
                slack_url=safe_url(slack.get("permalink")),
                session_url=session_link(escalation.session_id),
                customer_id=escalation.customer_id,
                sla=sla_badge(sla_view(record, sla, now)) if sla else "",
                category=read_category(record).label,
                customer=customer_label(escalation.customer_id, customer_names or {}),
            )
        )
    return sorted(rows, key=lambda r: (STATUS_ORDER.get(r.status, 9), -r.age_seconds, r.session_id))


@dataclass(frozen=True)
class QueueFilter:
    statuses: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    operators: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None
    # Sessions whose transcript matched the search; None when there is no search.
    matching_sessions: frozenset[str] | None = None


def filter_rows(rows: Sequence[QueueRow], chosen: QueueFilter) -> list[QueueRow]:
    def keep(row: QueueRow) -> bool:
        day = row.requested_at.date() if row.requested_at else None
        return (
            (not chosen.statuses or row.status in chosen.statuses)
            and (not chosen.reasons or row.reason in chosen.reasons)
            and (not chosen.operators or row.assignee in chosen.operators)
            and (chosen.since is None or (day is not None and day >= chosen.since))
            and (chosen.until is None or (day is not None and day <= chosen.until))
            and (chosen.matching_sessions is None or row.session_id in chosen.matching_sessions)
        )

    return [row for row in rows if keep(row)]


def filter_choices(rows: Sequence[QueueRow]) -> tuple[list[str], list[str]]:
    """The reasons and assignees present in the queue, for the filter widgets."""
    reasons = sorted({row.reason for row in rows if row.reason})
    operators = sorted({row.assignee for row in rows if row.assignee})
    return reasons, operators


def status_counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def queue_frame(rows: Sequence[QueueRow]) -> pd.DataFrame:
    """The queue table; st.dataframe shows cells as text, so untrusted reasons cannot inject markup.

    The link to the session comes first: at 1,280 px the table showed its first eight columns
    and the link, ninth, was off-screen."""
    return pd.DataFrame(
        {
            "session": [r.session_url for r in rows],
            "customer": [r.customer for r in rows],
            "status": [r.status for r in rows],
            "SLA": [r.sla for r in rows],
            # Only while someone waits: a returned or resolved handoff kept counting.
            "waiting for": [
                "" if r.waiting_seconds is None else format_age(r.waiting_seconds) for r in rows
            ],
            "assignee": [r.assignee for r in rows],
            "category": [r.category for r in rows],
            "reason": [r.reason for r in rows],
            "requested at": [r.requested_at for r in rows],
            # An empty cell, not Streamlit's grey "None", when there is no thread (yet).
            "slack": [r.slack_url or "" for r in rows],
            "session id": [r.session_id for r in rows],
        }
    )


# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    # Times as everywhere else in the dashboard and its exports (format_time).
    text = (
        "" if value is None else (format_time(value) if isinstance(value, datetime) else str(value))
    )
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def queue_csv(rows: Sequence[QueueRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "session_id",
            "status",
            "sla",
            "category",
            "reason",
            "requested_at",
            "waiting_seconds",
            "assignee",
            "customer",
            "customer_id",
            "slack_url",
            "session_url",
        ]
    )
    for r in rows:
        waiting = r.waiting_seconds
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    r.session_id,
                    r.status,
                    r.sla,
                    r.category,
                    r.reason,
                    r.requested_at,
                    None if waiting is None else int(waiting),
                    r.assignee,
                    r.customer,
                    r.customer_id,
                    r.slack_url,
                    r.session_url,
                )
            ]
        )
    return out.getvalue()


def sla_counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    """Open handoffs whose worst clock is breached or due soon, for the queue's banner."""
    open_rows = [r for r in rows if r.status in ("waiting", "claimed")]
    return {
        state: sum(1 for r in open_rows if r.sla.startswith(SLA_BADGES[state]))
        for state in ("breached", "due_soon")
    }
