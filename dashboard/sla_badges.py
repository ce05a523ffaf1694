"""The SLA clocks in the dashboard's words: the queue's badge and the session page's lines.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dashboard.formats import format_time
from handoff.record import HandoffRecord
from handoff.sla import (
    CLOCK_LABELS,
    STATE_LABELS,
    Clock,
    SlaSettings,
    SlaView,
    format_minutes,
    sla_view,
)

SLA_BADGES: Mapping[str, str] = {"breached": "🔴", "due_soon": "🟡", "ok": "🟢"}


def sla_badge(view: SlaView | None) -> str:
    """The queue's SLA cell: the worst clock, named, e.g. "🔴 claim breached"."""
    if view is None:
        return ""
    flagged = [c for c in (view.claim, view.first_reply) if c.state == view.worst]
    if view.worst == "ok":
        return f"{SLA_BADGES['ok']} on time"
    names = " and ".join(CLOCK_LABELS[c.name].lower() for c in flagged)
    return f"{SLA_BADGES[view.worst]} {names} {STATE_LABELS[view.worst]}"


def sla_clock_line(clock: Clock, business_hours_only: bool) -> str:
    """One clock for the session page, plain text: elapsed of target, state, and when it is due."""
    scope = " business time" if business_hours_only else ""
    head = f"{CLOCK_LABELS[clock.name]}: {format_minutes(clock.elapsed)}{scope} of {format_minutes(clock.target)}"
    if clock.running:
        due = f", due {format_time(clock.due_at)}" if clock.due_at and not clock.breached else ""
        return f"{SLA_BADGES[clock.state]} {head}, {STATE_LABELS[clock.state]}, running{due}"
    ended = {
        "claimed": "claimed",
        "replied": "answered",
        "returned": "returned to the AI",
        "resolved": "resolved",
    }.get(clock.stopped_by or "", "stopped")
    verdict = "breached" if clock.breached else "met"
    return f"{SLA_BADGES[clock.state]} {head}, {verdict} ({ended})"


def sla_lines(record: HandoffRecord, sla: SlaSettings, now: datetime) -> list[str]:
    view = sla_view(record, sla, now)
    if view is None:
        return []
    return [sla_clock_line(c, view.business_hours_only) for c in (view.claim, view.first_reply)]
