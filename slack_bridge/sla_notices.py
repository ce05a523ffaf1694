"""SLA reminders in the thread and breach notices to the supervisor channel, each exactly once.

Every notice is recorded in the bridge store before it is posted and carries its session and
kind in Slack message metadata, so a post whose outcome is unknown (the bridge was killed, the
answer was lost) is looked up before it is posted again: restarts and lost answers never post
a notice twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from handoff.record import HandoffRecord
from handoff.sla import SlaView, format_minutes
from slack_bridge import metrics, notices
from slack_bridge.post_once import SlaNoticeRecord, post_once
from slack_bridge.store import BridgeStore, ThreadLink
from slack_kit import block_kit, metadata, pacing
from slack_kit.posted import find_in_channel, find_in_thread
from slack_kit.slack_api import SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

CLAIM_REMINDER = "claim_reminder"
CLAIM_BREACH = "claim_breach"
FIRST_REPLY_BREACH = "first_reply_breach"


async def find_thread_notice(caller: SlackCaller, thread: ThreadLink, kind: str) -> str | None:
    return await find_in_thread(
        caller,
        thread.channel,
        thread.ts,
        lambda message: metadata.is_sla_notice(message, thread.session_id, kind),
    )


async def find_channel_notice(
    caller: SlackCaller, channel: str, session_id: str, kind: str
) -> str | None:
    return await find_in_channel(
        caller, channel, lambda message: metadata.is_sla_notice(message, session_id, kind)
    )


class SlaNotices:
    def __init__(
        self,
        caller: SlackCaller,
        store: BridgeStore,
        supervisor_channel: str | None,
        customer_name: Callable[[Any], Awaitable[str]],
    ) -> None:
        self._caller = caller
        self._store = store
        self._supervisor_channel = supervisor_channel
        self._customer_name = customer_name

    async def check(
        self, session: Any, record: HandoffRecord, thread: ThreadLink, sla: SlaView
    ) -> None:
        """Post whatever notices this handoff is due; only open handoffs get any."""
        status = record.get("status")
        if status not in ("waiting", "claimed"):
            return
        if status == "waiting" and sla.claim.running and sla.claim.breached:
            await self._once(
                thread.session_id,
                CLAIM_REMINDER,
                lambda: find_thread_notice(self._caller, thread, CLAIM_REMINDER),
                {"channel": thread.channel, "thread_ts": thread.ts},
                notices.claim_reminder(sla),
                thread.ts,
            )
        if self._supervisor_channel is None:
            return
        for kind, clock in ((CLAIM_BREACH, sla.claim), (FIRST_REPLY_BREACH, sla.first_reply)):
            if not clock.breached or await self._store.sla_notice_status(thread.session_id, kind):
                continue
            channel = self._supervisor_channel
            message = notices.breach_notice(
                clock.name,
                await self._customer_name(session),
                str(record.get("reason") or ""),
                format_minutes(clock.target),
                await self._permalink(record, thread),
            )
            await self._once(
                thread.session_id,
                kind,
                partial(find_channel_notice, self._caller, channel, thread.session_id, kind),
                {"channel": channel},
                message,
                thread.ts,
            )

    async def _once(
        self,
        session_id: str,
        kind: str,
        find: Callable[[], Awaitable[str | None]],
        where: dict[str, Any],
        message: block_kit.SlackMessage,
        thread_ts: str,
    ) -> None:
        text, notice_blocks = message
        posted = await post_once(
            self._caller,
            SlaNoticeRecord(self._store, session_id, kind),
            find,
            crash_before="sla.before_post",
            crash_after="sla.after_post",
            priority=pacing.FIRST,
            **where,
            text=text,
            blocks=notice_blocks,
            metadata=metadata.sla_notice_metadata(session_id, kind),
            unfurl_links=False,
            unfurl_media=False,
        )
        if not posted.now:
            return
        metrics.sla_notice_posted(kind)
        log.info(
            "sla %s posted session=%s channel=%s slack_ts=%s thread_ts=%s",
            kind,
            session_id,
            where["channel"],
            posted.ts,
            thread_ts,
        )

    async def _permalink(self, record: HandoffRecord, thread: ThreadLink) -> str:
        known = str((record.get("slack") or {}).get("permalink") or "")
        if known.startswith("https://"):
            return known
        try:
            answer = await self._caller.call(
                "chat.getPermalink", channel=thread.channel, message_ts=thread.ts
            )
        except (SlackUnavailable, SlackRejected) as error:
            log.warning(
                "no permalink for session=%s slack_ts=%s: %s", thread.session_id, thread.ts, error
            )
            return ""
        return str(answer.get("permalink") or "")
