"""Parlant → Slack: every new message of an escalated session, posted into its thread once.

One follower task per escalated session long-polls Parlant from a durable cursor. The cursor
moves past an event only after Slack accepted every part of it; a part whose post has an
unknown outcome (the bridge died, the answer was lost) is looked up in the thread by its
message metadata before it is posted again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError

from config.crash_points import crash_point
from handoff.actions import INTERNAL_NOTE
from handoff.packet import handoff_turn_start
from slack_bridge import metrics, mirror_text
from slack_bridge.clients import LongPollClients
from slack_bridge.state import STORE_UNAVAILABLE, BridgeStore, ThreadLink
from slack_escalation import metadata, speakers
from slack_escalation.masking import Masker
from slack_escalation.posted import find_in_thread
from slack_escalation.slack_api import AnswerLost, SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

# Under the 60 s read timeout of the long-poll clients; longer polls mean fewer idle round trips.
LONG_POLL_S = 50
RETRY_BACKOFF_S = (0.5, 1, 2, 3, 5)
T = TypeVar("T")
# Outages retried in place, so order is kept: Slack's, Parlant's and the state store's.
RETRIED: tuple[type[Exception], ...] = (
    SlackUnavailable,
    AnswerLost,
    httpx.TransportError,
    OSError,
    *STORE_UNAVAILABLE,
)


def came_from_slack(event: Any) -> bool:
    operator = (event.metadata or {}).get("operator") or {}
    return operator.get("origin") == "slack"


def mirror_label_and_text(event: Any) -> tuple[str, str] | None:
    """Who said it and what, for events the thread should show; None for the rest."""
    if came_from_slack(event):
        return None
    operator = (event.metadata or {}).get("operator") or {}
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == "message":
        participant = (data.get("participant") or {}).get("display_name")
        label = speakers.speaker_label(
            event.source, participant, operator.get("name"), operator.get("origin")
        )
        return label, str(data.get("message", ""))
    if event.kind == "custom" and data.get("type") == INTERNAL_NOTE:
        return f"{operator.get('name', 'Someone')} (internal note)", str(data.get("text", ""))
    return None


async def start_offset(parlant: AsyncParlantClient, session_id: str) -> int:
    """Mirror what the root message does not show: from just after the handoff turn's
    acknowledgement, so a message the customer sent during that turn and the AI's handoff reply
    are both included."""
    events = await parlant.sessions.list_events(session_id, kinds="status,tool", wait_for_data=0)
    boundary = handoff_turn_start(events)
    if boundary is not None:
        return boundary + 1
    everything = await parlant.sessions.list_events(session_id, wait_for_data=0)
    return int(everything[-1].offset) + 1 if everything else 0


async def find_mirrored_post(
    caller: SlackCaller, thread: ThreadLink, event_id: str, part: int
) -> str | None:
    return await find_in_thread(
        caller,
        thread.channel,
        thread.ts,
        lambda message: metadata.is_mirrored_part(message, event_id, part),
    )


class LeaseLost(Exception):
    """This replica no longer holds the session's lease: its mirror stops."""


class SessionMirror:
    def __init__(
        self,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        thread: ThreadLink,
        masker: Masker,
        owns: Callable[[str], bool],
    ) -> None:
        self._owns = owns
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._thread = thread
        self._masker = masker

    async def run(self) -> None:
        try:
            await self._mirror()
        except LeaseLost:
            log.warning("mirror stopped: lease lost session=%s", self._thread.session_id)

    async def _mirror(self) -> None:
        session_id = self._thread.session_id
        offset = await self._with_retries(partial(self._store.cursor, session_id))
        if offset is None:
            offset = await self._with_retries(lambda: start_offset(self._parlant, session_id)) or 0
            await self._with_retries(partial(self._store.advance_cursor, session_id, offset))
        log.info(
            "mirroring session=%s from offset=%s thread=%s", session_id, offset, self._thread.ts
        )
        while True:
            events = await self._with_retries(partial(self._poll, offset)) or []
            for event in events:
                await self._with_retries(partial(self.mirror_event, event))
                if mirror_label_and_text(event) is not None:
                    crash_point("mirror.after_record")
                offset = int(event.offset) + 1
                await self._with_retries(partial(self._store.advance_cursor, session_id, offset))

    async def _poll(self, offset: int) -> list[Any]:
        try:
            with metrics.long_poll():
                events = await self._parlant.sessions.list_events(
                    self._thread.session_id,
                    min_offset=offset,
                    kinds="message,custom",
                    wait_for_data=LONG_POLL_S,
                )
            return list(events)
        except ApiError as error:
            if error.status_code == 504:  # the long poll ended with nothing new
                return []
            raise

    async def mirror_event(self, event: Any) -> None:
        shown = mirror_label_and_text(event)
        if shown is None:
            return
        label, text = shown
        session_id = self._thread.session_id
        parts = mirror_text.mirrored_message(label, text, masker=self._masker)
        for part, (fallback, part_blocks) in enumerate(parts):
            status = await self._store.mirror_status(session_id, event.id, part)
            if status:
                continue  # posted before a restart
            if status == "":
                found = await find_mirrored_post(self._caller, self._thread, event.id, part)
                if found:
                    await self._store.mirror_posted(session_id, event.id, part, found)
                    continue
            if not self._owns(session_id):
                # The lease lapsed before its loss was noticed: another replica may mirror now.
                raise LeaseLost(session_id)
            await self._store.mirror_attempting(session_id, event.id, part)
            crash_point("mirror.before_post")
            ts = await self._caller.post_message(
                partial(find_mirrored_post, self._caller, self._thread, event.id, part),
                channel=self._thread.channel,
                thread_ts=self._thread.ts,
                text=fallback,
                blocks=part_blocks,
                metadata=metadata.mirror_metadata(session_id, event.id, part),
                unfurl_links=False,
                unfurl_media=False,
            )
            crash_point("mirror.after_post")
            await self._store.mirror_posted(session_id, event.id, part, ts)
            if part == 0:
                metrics.mirror_posted(getattr(event, "creation_utc", None))
            log.info(
                "mirrored session=%s event=%s part=%s slack_ts=%s", session_id, event.id, part, ts
            )

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]]) -> T | None:
        """Retry through outages of Slack or Parlant, in place, so order is kept."""
        failures = 0
        while True:
            try:
                return await attempt()
            except SlackRejected as error:
                # Retrying cannot fix it (e.g. the thread was deleted): skip rather than stall.
                log.error(
                    "slack refused a mirror post session=%s: %s", self._thread.session_id, error
                )
                return None
            except ApiError as error:
                if error.status_code is not None and error.status_code < 500:
                    raise
                failures = await _back_off(self._thread.session_id, failures, error)
            except RETRIED as error:
                failures = await _back_off(self._thread.session_id, failures, error)


async def _back_off(session_id: str, failures: int, error: BaseException) -> int:
    delay = RETRY_BACKOFF_S[min(failures, len(RETRY_BACKOFF_S) - 1)]
    log.warning("mirror session=%s waiting %ss after: %r", session_id, delay, error)
    await asyncio.sleep(delay)
    return failures + 1


class Mirrors:
    """One SessionMirror task per session with a human; started and stopped by discovery and
    by Take over."""

    def __init__(
        self,
        long_polls: LongPollClients,
        caller: SlackCaller,
        store: BridgeStore,
        masker: Masker,
        owns: Callable[[str], bool],
    ) -> None:
        self._owns = owns
        self._long_polls = long_polls
        self._caller = caller
        self._store = store
        self._masker = masker
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def active(self) -> int:
        """How many sessions are being mirrored now (the bridge's metrics)."""
        return sum(1 for task in self._tasks.values() if not task.done())

    def following(self, session_id: str) -> bool:
        task = self._tasks.get(session_id)
        return task is not None and not task.done()

    def follow(self, thread: ThreadLink) -> None:
        """Start mirroring the session, if this replica holds its lease (only the holder
        mirrors, so no message is posted twice)."""
        if self.following(thread.session_id) or not self._owns(thread.session_id):
            return
        mirror = SessionMirror(
            self._long_polls.for_session(thread.session_id),
            self._caller,
            self._store,
            thread,
            self._masker,
            self._owns,
        )
        task = asyncio.create_task(mirror.run(), name=f"mirror-{thread.session_id}")
        task.add_done_callback(_log_mirror_end)
        self._tasks[thread.session_id] = task

    def unfollow(self, session_id: str) -> None:
        task = self._tasks.pop(session_id, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


def _log_mirror_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("mirror %s stopped: %r", task.get_name(), task.exception())
