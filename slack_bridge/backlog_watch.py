"""Watching what waits for each channel: reported to the agent, and said in a channel behind.

Every few seconds this replica tells the agent how many customer messages wait to be posted
into each channel and for how long (slack_kit/backlog.py): the agent sends new
escalations to the overflow channel while theirs is behind, and the dashboard shows it. A
channel behind also gets one line saying so, at most once per `NOTE_EVERY_S` across every
replica (a slot in the shared store), ahead of the mirrors waiting there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Protocol

import httpx
from parlant.client.core.api_error import ApiError

from handoff.operator_api import AsyncOperatorApi
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore
from slack_kit import pacing
from slack_kit.backlog import ChannelBacklog, behind_note, report_body
from slack_kit.settings import SlackSettings
from slack_kit.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    not_looked_up,
)

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0
NOTE_EVERY_S = 600.0


class Waiting(Protocol):
    def backlog(self) -> dict[str, tuple[int, datetime | None]]: ...


def channel_backlogs(
    waiting: dict[str, tuple[int, datetime | None]], now: float
) -> dict[str, ChannelBacklog]:
    return {
        channel: ChannelBacklog(count, 0.0 if oldest is None else max(0.0, now - _epoch(oldest)))
        for channel, (count, oldest) in waiting.items()
    }


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class BacklogWatch:
    def __init__(
        self,
        api: AsyncOperatorApi,
        reporter: str,
        waiting: Waiting,
        caller: SlackCaller,
        store: BridgeStore,
        slack: SlackSettings,
    ) -> None:
        self._api = api
        self._reporter = reporter
        self._waiting = waiting
        self._caller = caller
        self._store = store
        self._slack = slack
        self._agent_refused = False
        self._last: dict[str, ChannelBacklog] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            try:
                await self.once()
            except Exception as error:  # figures only: the relay must not stop for them
                log.warning("slack backlog watch failed: %r", error)

    def behind(self, channel: str) -> bool:
        """Whether `channel` was behind at the last look (every REPORT_EVERY_S)."""
        last = self._last.get(channel)
        return last is not None and last.behind(self._slack.behind_after_s)

    async def once(self) -> None:
        backlogs = channel_backlogs(self._waiting.backlog(), time.time())
        self._last = backlogs
        await self._report(backlogs)
        for channel, backlog in backlogs.items():
            if backlog.behind(self._slack.behind_after_s):
                await self._say_behind(channel, backlog)

    async def _report(self, backlogs: dict[str, ChannelBacklog]) -> None:
        try:
            await self._api.report_backlog(report_body(self._reporter, backlogs), 5.0)
        except httpx.HTTPError as error:
            log.debug("slack backlog not reported: %r", error)
        except ApiError as refusal:  # RouteMissing too: an agent older than the route
            if self._agent_refused:
                return
            # Said once: an agent without the route (older) or a wrong token; the relay goes on.
            self._agent_refused = True
            log.warning(
                "the agent refused the slack backlog report: %s; the overflow channel and "
                "the dashboard's backlog line need it",
                f"HTTP {refusal.status_code}",
            )

    async def _say_behind(self, channel: str, backlog: ChannelBacklog) -> None:
        try:
            if await self._store.take_slot(f"behind-note:{channel}", NOTE_EVERY_S, 1) != 0:
                return  # said in the last NOTE_EVERY_S, by this replica or another
        except STORE_UNAVAILABLE as error:
            log.debug("behind note skipped, state store unreachable: %r", error)
            return
        log.warning(
            "slack channel behind channel=%s waiting=%d oldest_wait_s=%.0f",
            channel,
            backlog.waiting,
            backlog.oldest_wait_s,
        )
        overflow = self._slack.overflow_channel
        text = behind_note(backlog, overflow if overflow != channel else None)

        try:
            await self._caller.post_message(
                not_looked_up, priority=pacing.FIRST, channel=channel, text=text
            )
        except (SlackRejected, SlackUnavailable, AnswerLost) as error:
            log.warning("behind note failed channel=%s: %s", channel, error)
