"""The bridge's moving parts wired together: discovery, mirrors, the outbox and root messages.

Discovery lists the sessions labelled `handoff` every few seconds (Parlant's list has no filter
on metadata): it opens threads the handoff tool could not, starts a mirror for each session
with a human and stops it when the session goes back to the AI or is resolved, and rewrites
root messages whose record changed elsewhere (the dashboard).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from typing import Any

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError

from handoff import actions
from handoff.actions import Operator
from handoff.record import ACTIVE_STATUSES, HandoffNotActive, HandoffRecord, read_record
from slack_bridge import handback_form
from slack_bridge.inbound import Inbound
from slack_bridge.listing import ListedSession, fetch_handed_off, listed_sessions
from slack_bridge.mirror import SessionMirror, find_mirrored_post
from slack_bridge.operators import DisplayNames
from slack_bridge.settings import BridgeSettings
from slack_bridge.sla_notices import SlaNotices
from slack_bridge.state import BridgeStore, ThreadLink
from slack_bridge.root_sync import RootSync
from slack_bridge.update_budget import UpdateBudget
from slack_escalation import metadata, root_message
from slack_escalation.settings import SlackSettings
from slack_escalation.slack_api import AnswerLost, SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL_S = 2.0
# A session whose metadata did not change is synced again (SLA line and notices, a mirror that
# ended) at this pace rather than on every pass: SLA lines move in whole minutes.
UNCHANGED_RESYNC_S = 15.0
# Threads to open or update at once; Slack's pacing still applies per channel.
DISCOVERY_CONCURRENCY = 16
OUTBOX_RETRY_INTERVAL_S = 2.0
# Each followed session holds one long poll open. httpcore scans its whole pool for every
# request, so one pool of a thousand connections costs a core; shards keep each scan short.
LONG_POLL_SHARDS = 32
CONNECTIONS_PER_SHARD = 64
ACTION_CONNECTIONS = 100


def operator_headers(settings: BridgeSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}


def parlant_client(
    settings: BridgeSettings, max_connections: int = ACTION_CONNECTIONS
) -> AsyncParlantClient:
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        headers=operator_headers(settings),
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


# Buttons that act at once. Return to AI opens the handback form instead (open_handback).
BUTTON_ACTIONS = {
    root_message.ACTION_CLAIM: actions.claim,
    root_message.ACTION_RESOLVE: actions.resolve,
    root_message.ACTION_TAKE_OVER: actions.take_over,
}
UNREACHABLE = "Parlant could not be reached; nothing changed. Please try again."


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
        self.roots = RootSync(
            parlant,
            caller,
            store,
            slack.routes,
            settings.dashboard_url,
            slack.masker,
            settings.sla,
            UpdateBudget(),
        )
        self.sla_notices = SlaNotices(
            caller, store, slack.supervisor_channel, self.roots.customer_name
        )
        self.inbound = Inbound(slack, parlant, caller, store, self.names, self.refresh_root)
        self._mirrors: dict[str, asyncio.Task[None]] = {}
        self._long_polls = LongPollClients(settings)
        self._parlant_url = settings.parlant_url
        self._listing_http = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0), headers=operator_headers(settings)
        )
        # session id -> (metadata at the last successful sync, when)
        self._synced: dict[str, tuple[Any, float]] = {}
        self._last_listing = b""
        self._last_listing_read = 0.0
        self._last_pass_failed = False

    def mirrors_active(self) -> int:
        return sum(1 for task in self._mirrors.values() if not task.done())

    def _following(self, session_id: str) -> bool:
        task = self._mirrors.get(session_id)
        return task is not None and not task.done()

    async def run(self) -> None:
        await asyncio.gather(self._discovery_loop(), self._outbox_loop())

    async def _discovery_loop(self) -> None:
        while True:
            try:
                await self.discover()
            except (ApiError, httpx.TransportError, httpx.HTTPStatusError, OSError) as error:
                log.warning("discovery: parlant unreachable: %r", error)
            await asyncio.sleep(DISCOVERY_INTERVAL_S)

    async def _outbox_loop(self) -> None:
        while True:
            await asyncio.sleep(OUTBOX_RETRY_INTERVAL_S)
            await self.inbound.deliver_pending()

    async def discover(self) -> None:
        raw = await fetch_handed_off(self._listing_http, self._parlant_url)
        now = time.monotonic()
        unchanged = raw == self._last_listing and now - self._last_listing_read < UNCHANGED_RESYNC_S
        if unchanged and not self._last_pass_failed:
            return  # nothing changed in Parlant, nothing to retry, and no resync is due yet
        self._last_listing, self._last_listing_read = raw, now
        self._last_pass_failed = False
        due = [s for s in listed_sessions(json.loads(raw)) if self._needs_sync(s, now)]

        async def sync(session: ListedSession) -> None:
            record = read_record(session.metadata)
            if record is None:
                return  # the handoff tool has labelled it but not yet written the record
            try:
                await self._sync_session(session, record)
            except (SlackUnavailable, AnswerLost, SlackRejected) as error:
                log.warning("slack unavailable for session=%s: %s", session.id, error)
                self._last_pass_failed = True
                return
            except BaseException:
                self._last_pass_failed = True
                raise
            self._synced[session.id] = (session.metadata, now)

        # In batches, so the mirrors' sockets are served between them: a thousand syncs made
        # ready at once would hold the event loop for the whole pass (p99 mirror latency).
        for start in range(0, len(due), DISCOVERY_CONCURRENCY):
            await asyncio.gather(*(sync(s) for s in due[start : start + DISCOVERY_CONCURRENCY]))

    def _needs_sync(self, session: ListedSession, now: float) -> bool:
        synced = self._synced.get(session.id)
        if synced is None:
            return True
        metadata, at = synced
        return metadata != session.metadata or now - at >= UNCHANGED_RESYNC_S

    async def _sync_session(self, session: Any, record: HandoffRecord) -> None:
        thread = self._thread_of(session.id, record)
        if thread is None:
            if record.get("status") not in ACTIVE_STATUSES:
                return
            thread = await self.roots.post_pending(session, record)
        active = record.get("status") in ACTIVE_STATUSES
        following = self._following(session.id)
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
        mirror = SessionMirror(
            self._long_polls.for_session(thread.session_id),
            self._caller,
            self._store,
            thread,
            self._slack.masker,
        )
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

    def _not_allowed(self, user_id: str, channel: str, session_id: str) -> str | None:
        thread = self._store.thread_for_session(session_id)
        if channel not in self._slack.routes.channels and (
            thread is None or thread.channel != channel
        ):
            return "This button does not belong to an escalation channel."
        if self._slack.operator_ids and user_id not in self._slack.operator_ids:
            return "You are not on this workspace's list of support operators."
        return None

    async def _operator(self, user_id: str) -> Operator:
        return Operator(
            id=f"slack:{user_id}", name=await self.names.name_of(user_id), origin="slack"
        )

    async def on_button(
        self, action_id: str, session_id: str, user_id: str, channel: str
    ) -> str | None:
        """Run a button's action; returns a message for the clicking operator when refused."""
        refusal = self._not_allowed(user_id, channel, session_id)
        if refusal:
            return refusal
        operator = await self._operator(user_id)
        try:
            await BUTTON_ACTIONS[action_id](self._parlant, session_id, operator)
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except (ApiError, httpx.TransportError) as error:
            log.warning("button %s failed session=%s: %r", action_id, session_id, error)
            return UNREACHABLE
        log.info("button %s session=%s by user=%s", action_id, session_id, user_id)
        await self.refresh_root(session_id)
        if action_id == root_message.ACTION_TAKE_OVER:
            thread = self._store.thread_for_session(session_id)
            if thread and not self._following(session_id):
                self._follow(thread)
        return None

    async def open_handback(
        self, trigger_id: str, target: handback_form.HandbackTarget, user_id: str
    ) -> str | None:
        """Return to AI: open the handback form, unless the click would be refused anyway."""
        refusal = self._not_allowed(user_id, target.channel, target.session_id)
        if refusal:
            return refusal
        try:
            record = await actions.current_record(self._parlant, target.session_id)
        except (ApiError, httpx.TransportError) as error:
            log.warning(
                "handback form session=%s: parlant unreachable: %r", target.session_id, error
            )
            return UNREACHABLE
        if record is None or record.get("status") not in ACTIVE_STATUSES:
            return _not_active(
                HandoffNotActive(target.session_id, record.get("status") if record else None)
            )
        try:
            await self._caller.call(
                "views.open", trigger_id=trigger_id, view=handback_form.handback_modal(target)
            )
        except (SlackUnavailable, SlackRejected) as error:
            log.warning(
                "handback form not opened session=%s user=%s: %s", target.session_id, user_id, error
            )
            return "Slack could not open the handback form; press Return to AI again."
        log.info("handback form opened session=%s user=%s", target.session_id, user_id)
        return None

    async def hand_back(
        self, target: handback_form.HandbackTarget, user_id: str, note: str
    ) -> str | None:
        """A submitted handback form: return the session to the AI with the note, say so in the
        thread, rewrite the root. Returns a message for the operator when refused."""
        refusal = self._not_allowed(user_id, target.channel, target.session_id)
        if refusal:
            return refusal
        operator = await self._operator(user_id)
        try:
            handback = await actions.return_to_ai(self._parlant, target.session_id, operator, note)
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except actions.InvalidHandbackNote as invalid:
            return str(invalid)
        except (ApiError, httpx.TransportError) as error:
            log.warning("handback failed session=%s: %r", target.session_id, error)
            return UNREACHABLE
        log.info(
            "handed back session=%s by user=%s event=%s",
            target.session_id,
            user_id,
            handback.event_id,
        )
        await self._post_handback(target, operator, handback)
        await self.refresh_root(target.session_id)
        return None

    async def _post_handback(
        self, target: handback_form.HandbackTarget, operator: Operator, handback: actions.Handback
    ) -> None:
        thread = self._store.thread_for_session(target.session_id) or ThreadLink(
            target.session_id, target.channel, target.thread_ts
        )
        text, line_blocks = handback_form.handback_posted(operator.name, handback.note)
        try:
            ts = await self._caller.post_message(
                lambda: find_mirrored_post(self._caller, thread, handback.event_id, 0),
                channel=thread.channel,
                thread_ts=thread.ts,
                text=text,
                blocks=line_blocks,
                # Marked as the handback event's post, so a retry after a lost answer finds it.
                metadata=metadata.mirror_metadata(target.session_id, handback.event_id, 0),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackUnavailable, SlackRejected, AnswerLost) as error:
            # The handback itself happened and the note is in Parlant (and the dashboard).
            log.warning("handback line not posted session=%s: %s", target.session_id, error)
            return
        log.info("handback line posted session=%s slack_ts=%s", target.session_id, ts)

    async def stop(self) -> None:
        for task in self._mirrors.values():
            task.cancel()
        await asyncio.gather(*self._mirrors.values(), return_exceptions=True)
        await self._listing_http.aclose()


def _not_active(refusal: HandoffNotActive) -> str:
    return f"This escalation is {refusal.status or 'not handed off'}; use Take over to handle it again."


def _log_mirror_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("mirror %s stopped: %r", task.get_name(), task.exception())
