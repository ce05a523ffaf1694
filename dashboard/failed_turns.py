"""The failed-turns page's rows and figures (pure functions): every AI turn that ended in an
error, the turn's deadline or model calls, or with no reply, as the agent recorded it in the
session (handoff/failed_turn.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd  # type: ignore[import-untyped]

from dashboard.model import RawEvent
from handoff.failed_turn import FailedTurn, read_failed_turn

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class FailedTurnRow:
    session_id: str
    customer_id: str
    at: datetime
    turn: FailedTurn


@dataclass(frozen=True)
class FailedTurnSummary:
    total: int
    last_day: int
    not_handed_off: int


def failed_turn_rows(
    session_id: str, customer_id: str, events: Iterable[RawEvent]
) -> list[FailedTurnRow]:
    """The failed turns among a session's events."""
    rows = []
    for event in events:
        turn = read_failed_turn(event.data) if event.kind == "custom" else None
        if turn is not None:
            rows.append(FailedTurnRow(session_id, customer_id, event.created, turn))
    return rows


def failed_turn_summary(rows: Sequence[FailedTurnRow], now: datetime) -> FailedTurnSummary:
    return FailedTurnSummary(
        total=len(rows),
        last_day=sum(1 for r in rows if now - r.at <= RECENT),
        not_handed_off=sum(1 for r in rows if not r.turn.handed_off),
    )


def failed_turns_frame(
    rows: Iterable[FailedTurnRow], page_url: Callable[[str], str]
) -> pd.DataFrame:
    """One row per failed turn, newest first."""
    records = [
        {
            "failed at": row.at,
            "session": row.session_id,
            "customer": row.customer_id,
            "cause": row.turn.cause.label,
            "error": row.turn.error or "",
            "handed off": "yes" if row.turn.handed_off else "no",
            "transcript": page_url(row.session_id),
        }
        for row in sorted(rows, key=lambda r: r.at, reverse=True)
    ]
    columns = ["failed at", "session", "customer", "cause", "error", "handed off", "transcript"]
    return pd.DataFrame(records, columns=columns)
