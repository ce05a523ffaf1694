"""What the chat page tells a customer while a person is awaited: pure, from the SLA settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from handoff.sla import SlaSettings, format_minutes

_A_MOMENT = timedelta(seconds=1)


def handoff_notice(sla: SlaSettings, now: datetime) -> str:
    """One sentence: a person will reply here, and when to expect it."""
    usually = f"usually within {format_minutes(sla.first_reply_target)}"
    hours = sla.hours
    if hours.around_the_clock or hours.elapsed(now, now + timedelta(minutes=1)):
        return f"A person from our support team will reply here, {usually}."
    opens = hours.deadline(now, _A_MOMENT)
    if opens is None:
        return "A person from our support team will reply here as soon as they can."
    local = (opens - _A_MOMENT).astimezone(hours.zone)
    when = (
        local.strftime("%A %H:%M")
        if local.date() != now.astimezone(hours.zone).date()
        else (local.strftime("today at %H:%M"))
    )
    return (
        f"Our support team is away right now. A person will reply here when they are back "
        f"({when}, {hours.zone.key} time), {usually} after that."
    )
