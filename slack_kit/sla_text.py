"""The SLA clocks as Slack shows them: the root message's SLA line. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff.sla import CLOCK_LABELS, STATE_LABELS, Clock, SlaView, format_minutes, shown_elapsed
from slack_kit.block_kit import Block

SLA_STATE_EMOJI = {
    "ok": ":large_green_circle:",
    "due_soon": ":large_yellow_circle:",
    "breached": ":red_circle:",
}
_STOP_WORDS = {
    "claimed": "claimed",
    "replied": "answered",
    "returned": "returned to the AI",
    "resolved": "resolved",
}


def _slack_ago(iso: str) -> str:
    """A "12 minutes ago" that Slack's clients keep current themselves, so it costs no updates."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return "at an unknown time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("at %Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{ago}}|{fallback}>"


def sla_clock_text(clock: Clock) -> str:
    """One clock as "Claim 12 min / 15 min, due soon", or how it ended once stopped."""
    label = CLOCK_LABELS[clock.name]
    emoji = SLA_STATE_EMOJI[clock.state]
    target = format_minutes(clock.target)
    if clock.running:
        shown = shown_elapsed(clock)
        so_far = format_minutes(shown) if shown.total_seconds() >= 60 else "under 1 min"
        return f"{emoji} {label} {so_far} / {target}, {STATE_LABELS[clock.state]}"
    how = _STOP_WORDS.get(clock.stopped_by or "", "stopped")
    verdict = "breached" if clock.breached else "met"
    return (
        f"{emoji} {label} {verdict}: {how} after {format_minutes(clock.elapsed)} (target {target})"
    )


def sla_blocks(sla: SlaView | None, requested_at: str) -> list[Block]:
    """The root message's SLA line: live wall-clock age plus the business-time clocks."""
    if sla is None:
        return []
    clocks = " · ".join(sla_clock_text(c) for c in (sla.claim, sla.first_reply))
    scope = " (business hours)" if sla.business_hours_only else ""
    text = f":stopwatch: Handed off {_slack_ago(requested_at)} · SLA{scope}: {clocks}"
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]
