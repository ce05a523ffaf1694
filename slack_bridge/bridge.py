"""The bridge's moving parts wired together: discovery, mirrors, the outbox and root messages.

Discovery lists the sessions labelled `handoff` every few seconds (Parlant's list has no filter
on metadata): it opens threads the handoff tool could not, starts a mirror for each session
with a human and stops it when the session goes back to the AI or is resolved, and rewrites
root messages whose record changed elsewhere (the dashboard).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError

from handoff import actions
from handoff.actions import Operator
from handoff.record import ACTIVE_STATUSES, HandoffNotActive, HandoffRecord, read_record
from slack_bridge import blocks
from slack_bridge.inbound import Inbound
from slack_bridge.mirror import SessionMirror
from slack_bridge.operators import DisplayNames
from slack_bridge.settings import BridgeSettings, SlackSettings
from slack_bridge.slack_api import AnswerLost, SlackCaller, SlackRejected, SlackUnavailable
from slack_bridge.state import BridgeStore, ThreadLink
from slack_bridge.sla_notices import SlaNotices
from slack_bridge.threads import RootMessages
from slack_bridge.update_budget import UpdateBudget

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL_S = 2.0
# Threads to open or update at once; Slack's pacing still applies per channel.
DISCOVERY_CONCURRENCY = 16
OUTBOX_RETRY_INTERVAL_S = 2.0
# Each followed session holds one long poll open. httpcore scans its whole pool for every
# request, so one pool of a thousand connections costs a core; shards keep each scan short.
LONG_POLL_SHARDS = 32
CONNECTIONS_PER_SHARD = 64
ACTION_CONNECTIONS = 100


def parlant_client(settings: BridgeSettings, max_connections: int = ACTION_CONNECTIONS) -> AsyncParlantClient:
    headers = {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        headers=headers,
    )
    return AsyncParlantClient(base_url=settings.parlant_url, httpx_client=http)


class LongPollClients:
    """Parlant clients for the mirrors' long polls, spread over small connection pools."""

    def __init__(self, settings: BridgeSettings) -> None:
        self._settings = settings
        self._shards: dict[int, AsyncParlantClient] = {}

    def for_session(self, session_id: str) -> AsyncParlantClient:
        shard = zlib.crc32(session_id.encode()) % LONG_POLL_SHARDS
        if shard not in self._shards:
            self._shards[shard] = parlant_client(self._settings, CONNECTIONS_PER_SHARD)
        return self._shards[shard]


BUTTON_ACTIONS = {
    blocks.ACTION_CLAIM: actions.claim,
    blocks.ACTION_RETURN: actions.return_to_ai,
    blocks.ACTION_RESOLVE: actions.resolve,
    blocks.ACTION_TAKE_OVER: actions.take_over,
}


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        slack: SlackSettings,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
    ) -> None:
        self._slack = slack
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self.names = DisplayNames(caller)
        self.roots = RootMessages(
            parlant, caller, store, slack.escalation_channel, settings.dashboard_url, settings.sla, UpdateBudget()
        )
        self.sla_notices = SlaNotices(caller, store, slack.supervisor_channel, self.roots.customer_name)
        self.inbound = Inbound(slack, parlant, caller, store, self.names, self.refresh_root)
        self._mirrors: dict[str, asyncio.Task[None]] = {}
        self._long_polls = LongPollClients(settings)

    @property
    def followed_sessions(self) -> set[str]:
        return {sid for sid, task in self._mirrors.items() if not task.done()}

    async def run(self) -> None:
        await asyncio.gather(self._discovery_loop(), self._outbox_loop())

    async def _discovery_loop(self) -> None:
        while True:
            try:
                await self.discover()
            except (ApiError, httpx.TransportError, OSError) as error:
                log.warning("discovery: parlant unreachable: %r", error)
            await asyncio.sleep(DISCOVERY_INTERVAL_S)

    async def _outbox_loop(self) -> None:
        while True:
            await asyncio.sleep(OUTBOX_RETRY_INTERVAL_S)
            await self.inbound.deliver_pending()

    async def discover(self) -> None:
        sessions = await self._parlant.sessions.list(labels=["handoff"])
        items = sessions.items if hasattr(sessions, "items") else sessions
        limit = asyncio.Semaphore(DISCOVERY_CONCURRENCY)

        async def sync(session: Any) -> None:
            record = read_record(session.metadata)
            if record is None:
                return  # the handoff tool has labelled it but not yet written the record
            async with limit:
                try:
                    await self._sync_session(session, record)
                except (SlackUnavailable, AnswerLost, SlackRejected) as error:
                    log.warning("slack unavailable for session=%s: %s", session.id, error)

        await asyncio.gather(*(sync(s) for s in items))

    async def _sync_session(self, session: Any, record: HandoffRecord) -> None:
        thread = self._thread_of(session.id, record)
        if thread is None:
            if record.get("status") not in ACTIVE_STATUSES:
                return
            thread = await self.roots.post_pending(session, record)
        active = record.get("status") in ACTIVE_STATUSES
        following = session.id in self.followed_sessions
        if active and not following:
            self._follow(thread)
        elif not active and following:
            self._mirrors.pop(session.id).cancel()
            log.info("stopped mirroring session=%s status=%s", session.id, record.get("status"))
        sla = self.roots.sla_of(record)
        await self.roots.refresh(session, record, thread, sla)
        if sla is not None:
            await self.sla_notices.check(session, record, thread, sla)

    def _thread_of(self, session_id: str, record: HandoffRecord) -> ThreadLink | None:
        known = self._store.thread_for_session(session_id)
        if known:
            return known
        slack = record.get("slack") or {}
        if slack.get("state") == "posted" and slack.get("channel") and slack.get("ts"):
            self._store.link_thread(session_id, slack["channel"], slack["ts"])
            return ThreadLink(session_id, slack["channel"], slack["ts"])
        return None

    def _follow(self, thread: ThreadLink) -> None:
        mirror = SessionMirror(self._long_polls.for_session(thread.session_id), self._caller, self._store, thread)
        task = asyncio.create_task(mirror.run(), name=f"mirror-{thread.session_id}")
        task.add_done_callback(_log_mirror_end)
        self._mirrors[thread.session_id] = task

    async def refresh_root(self, session_id: str) -> None:
        try:
            session = await self._parlant.sessions.retrieve(session_id)
            record = read_record(session.metadata)
            thread = self._store.thread_for_session(session_id)
            if record and thread:
                await self.roots.refresh(session, record, thread)
        except (SlackUnavailable, SlackRejected, ApiError, httpx.TransportError) as error:
            log.warning("root refresh failed session=%s: %r", session_id, error)

    async def on_button(self, action_id: str, session_id: str, user_id: str, channel: str) -> str | None:
        """Run a button's action; returns a message for the clicking operator when refused."""
        if channel != self._slack.escalation_channel:
            return "This button does not belong to the escalation channel."
        if self._slack.operator_ids and user_id not in self._slack.operator_ids:
            return "You are not on this workspace's list of support operators."
        operator = Operator(id=f"slack:{user_id}", name=await self.names.name_of(user_id), origin="slack")
        try:
            await BUTTON_ACTIONS[action_id](self._parlant, session_id, operator)
        except HandoffNotActive as refusal:
            return f"This escalation is {refusal.status}; use Take over to handle it again."
        except (ApiError, httpx.TransportError) as error:
            log.warning("button %s failed session=%s: %r", action_id, session_id, error)
            return "Parlant could not be reached; nothing changed. Please try again."
        log.info("button %s session=%s by user=%s", action_id, session_id, user_id)
        await self.refresh_root(session_id)
        if action_id == blocks.ACTION_TAKE_OVER:
            thread = self._store.thread_for_session(session_id)
            if thread and session_id not in self.followed_sessions:
                self._follow(thread)
        return None

    async def stop(self) -> None:
        for task in self._mirrors.values():
            task.cancel()
        await asyncio.gather(*self._mirrors.values(), return_exceptions=True)


def _log_mirror_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("mirror %s stopped: %r", task.get_name(), task.exception())
