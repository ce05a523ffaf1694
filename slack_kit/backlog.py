"""How far behind each escalation channel is, as the bridges report it, and what follows.

Slack takes about one post a second per channel; on a busy morning customer messages wait for
their turn (the bridge coalesces what waits for one thread, but a channel can still fall
behind). Each bridge replica reports what waits for each channel every few seconds to the
agent (`PUT /escalations/slack-backlog`); the agent sends new escalations to the overflow
channel (`SLACK_OVERFLOW_CHANNEL`) while their channel is behind, and the dashboard shows it.

Pure: the report's shape and checks, the sum over replicas, the overflow rule, the note's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_kit.routing import is_channel_id

# A replica's report counts this long: one that stopped reporting (dead, or Slack no longer
# behind for it) stops counting within a minute.
REPORT_TTL_S = 60.0
# At most this many channels in one report (a bridge routes to a handful).
MAX_CHANNELS = 200
MAX_REPORTER_CHARS = 100
# SLACK_BEHIND_AFTER_SECONDS's default: a customer message unposted for two minutes.
BEHIND_AFTER_S = 120.0


@dataclass(frozen=True)
class ChannelBacklog:
    waiting: int  # customer-side messages not yet posted into the channel's threads
    oldest_wait_s: float  # how long the oldest of them has waited since Parlant stored it

    def behind(self, after_s: float) -> bool:
        return self.waiting > 0 and self.oldest_wait_s >= after_s


class BadReport(ValueError):
    """The message says what is wrong with the report."""


def parse_report(body: Any) -> tuple[str, dict[str, ChannelBacklog]]:
    """`{"reporter": "<replica id>", "channels": {"C0…": {"waiting": n,
    "oldest_wait_seconds": s}}}` → (reporter, per channel)."""
    if not isinstance(body, dict):
        raise BadReport("the body must be a JSON object with reporter and channels")
    reporter = body.get("reporter")
    if not isinstance(reporter, str) or not reporter or len(reporter) > MAX_REPORTER_CHARS:
        raise BadReport(f"reporter must be a string of 1 to {MAX_REPORTER_CHARS} characters")
    channels = body.get("channels")
    if not isinstance(channels, dict) or len(channels) > MAX_CHANNELS:
        raise BadReport(f"channels must be an object of at most {MAX_CHANNELS} channel ids")
    parsed = {}
    for channel, figures in channels.items():
        if not is_channel_id(channel):
            raise BadReport(f"{channel[:30]!r} is not a channel id")
        if not isinstance(figures, dict):
            raise BadReport(f"channels.{channel} must be an object")
        waiting, oldest = figures.get("waiting"), figures.get("oldest_wait_seconds")
        if not isinstance(waiting, int) or isinstance(waiting, bool) or not 0 <= waiting < 10**9:
            raise BadReport(f"channels.{channel}.waiting must be a whole number ≥ 0")
        if (
            not isinstance(oldest, int | float)
            or isinstance(oldest, bool)
            or not 0 <= oldest < 10**9
        ):
            raise BadReport(f"channels.{channel}.oldest_wait_seconds must be a number ≥ 0")
        parsed[channel] = ChannelBacklog(waiting, float(oldest))
    return reporter, parsed


def report_body(reporter: str, channels: Mapping[str, ChannelBacklog]) -> dict[str, Any]:
    return {
        "reporter": reporter,
        "channels": {
            c: {"waiting": b.waiting, "oldest_wait_seconds": round(b.oldest_wait_s, 1)}
            for c, b in channels.items()
        },
    }


class ReportedBacklogs:
    """The latest report of each replica, kept by each agent in memory: advisory figures,
    reported again every few seconds, that a restart may forget."""

    def __init__(self, ttl_s: float = REPORT_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._reports: dict[str, tuple[float, dict[str, ChannelBacklog]]] = {}

    def report(self, reporter: str, channels: dict[str, ChannelBacklog], now: float) -> None:
        self._reports[reporter] = (now, channels)

    def current(self, now: float) -> dict[str, ChannelBacklog]:
        """Per channel, every live replica's figures together: the messages add up, the
        oldest wait is the longest, aged by the time since it was reported."""
        for reporter in [r for r, (at, _) in self._reports.items() if now - at > self._ttl_s]:
            del self._reports[reporter]
        total: dict[str, ChannelBacklog] = {}
        for at, channels in self._reports.values():
            for channel, backlog in channels.items():
                if backlog.waiting == 0:
                    continue
                aged = backlog.oldest_wait_s + max(0.0, now - at)
                known = total.get(channel, ChannelBacklog(0, 0.0))
                total[channel] = ChannelBacklog(
                    known.waiting + backlog.waiting, max(known.oldest_wait_s, aged)
                )
        return total


def overflow_channel(
    routed: str,
    backlogs: Mapping[str, ChannelBacklog],
    overflow: str | None,
    after_s: float,
) -> str:
    """Where a new escalation goes: its routed channel, or the overflow channel while the
    routed one is behind (and the overflow channel is not behind itself)."""
    if overflow is None or overflow == routed:
        return routed
    busy = backlogs.get(routed)
    if busy is None or not busy.behind(after_s):
        return routed
    spare = backlogs.get(overflow)
    return routed if spare is not None and spare.behind(after_s) else overflow


def behind_note(backlog: ChannelBacklog, overflow: str | None) -> str:
    """The line a bridge posts into a channel that fell behind."""
    minutes = max(1, round(backlog.oldest_wait_s / 60))
    where = (
        f" New escalations go to <#{overflow}> until it catches up."
        if overflow is not None
        else " Set SLACK_OVERFLOW_CHANNEL to send new escalations elsewhere while it lasts."
    )
    return (
        f":hourglass_flowing_sand: This channel is behind: {backlog.waiting} customer "
        f"message{'s' if backlog.waiting != 1 else ''} waiting to be posted, the oldest for "
        f"about {minutes} min (Slack takes about one post a second per channel).{where}"
    )
