"""Parlant → Slack: every new message of an escalated session, posted into its thread once.

One feed follower per bridge process (feed_follower.py) long-polls the agent's escalation feed
and hands the events of the sessions this replica mirrors to their SessionMirror here: one task
and queue per session, so posting stays per thread (in order, paced by Slack per channel).

The per-session cursor is the truth of what a thread has. A session that starts being mirrored
(a new handoff, a restart, a lease taken over from a dead replica) first catches up with
`list_events` from its cursor, then takes feed events at or above it. The cursor moves past an
event only after Slack accepted every part of it; a part whose post has an unknown outcome (the
bridge died, the answer was lost) is looked up in the thread by its message metadata before it
is posted again.

Slack takes about one post a second per channel. A mirror whose next message is short waits for
the channel's turn first, then posts everything its thread received meanwhile as one post (a
section per message, every event id in the post's metadata), so a busy channel's threads fall
behind by one turn, not by one post per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError

from config.crash_points import crash_point
from handoff.actions import INTERNAL_NOTE
from handoff.packet import recorded_thread_start, thread_start
from handoff.record import read_record
from slack_bridge import metrics, mirror_text
from slack_bridge.feed import MIRRORED_KINDS, MirrorEvent, from_parlant
from slack_bridge.post_once import KeyedPostRecord, post_once
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore, ThreadLink
from slack_kit import metadata, speakers
from slack_kit.masking import Masker
from slack_kit.posted import find_all_in_thread, find_in_thread
from slack_kit.slack_api import AnswerLost, SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (0.5, 1, 2, 3, 5)
CATCH_UP_CONCURRENCY = 32
# A catch-up whose turn took longer than this reads its session again before posting.
REREAD_AFTER_WAIT_S = 0.1
# Messages in one coalesced post (a section each; Slack allows 50 blocks), and feed events
# taken from a mirror's queue at once.
MAX_COALESCED = 20
MAX_IN_HAND = 200
T = TypeVar("T")
# Called with a feed position once its event is done with (posted, or no longer ours).
Finished = Callable[[int], None]
# Outages retried in place, so order is kept: Slack's, Parlant's and the state store's.
RETRIED: tuple[type[Exception], ...] = (
    SlackUnavailable,
    AnswerLost,
    httpx.TransportError,
    OSError,
    *STORE_UNAVAILABLE,
)


def came_from_slack(event: MirrorEvent) -> bool:
    operator = (event.metadata or {}).get("operator") or {}
    return operator.get("origin") == "slack"


def mirror_label_and_text(event: MirrorEvent) -> tuple[str, str] | None:
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
    """Mirror what the root message does not show: from the first event the handoff turn had
    not read, so a message the customer sent during that turn and the AI's handoff reply are
    both included."""
    session = await parlant.sessions.retrieve(session_id)
    record = read_record(session.metadata)
    recorded = recorded_thread_start(record)
    if recorded is not None:
        return recorded
    events = await parlant.sessions.list_events(session_id, kinds="status,tool", wait_for_data=0)
    start = thread_start(record, events)
    if start is not None:
        return start
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


async def find_mirrored_posts(
    caller: SlackCaller, thread: ThreadLink, event_ids: set[str]
) -> dict[str, str]:
    """event id -> the ts of the post carrying its first part, one read of the thread for all."""
    found = await find_all_in_thread(
        caller,
        thread.channel,
        thread.ts,
        metadata.mirrored_parts,
        {(event_id, 0) for event_id in event_ids},
    )
    return {event_id: ts for (event_id, _), ts in found.items()}


class LeaseLost(Exception):
    """This replica no longer holds the session's lease: its mirror stops."""


class Turn:
    """Whether a post still has to wait for its channel's turn: a mirror that took the turn
    ahead (to coalesce what arrives meanwhile) hands it to its first post only."""

    def __init__(self, taken: bool) -> None:
        self._taken = taken

    def paced(self) -> bool:
        if self._taken:
            self._taken = False
            return False
        return True


class SessionMirror:
    """One session's poster: catches the thread up from its cursor, then posts the feed events
    handed to it, one at a time, in offset order."""

    def __init__(
        self,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        thread: ThreadLink,
        masker: Masker,
        owns: Callable[[str], bool],
        catch_up_every: Callable[[], float | None],
        catching_up: asyncio.Semaphore,
        customer_posted: Callable[[ThreadLink, MirrorEvent], None] | None,
        waiting_in: set[SessionMirror],
    ) -> None:
        self._owns = owns
        self._customer_posted = customer_posted
        # The mirrors with something waiting (Mirrors.backlog reads those, not every mirror).
        self._waiting_in = waiting_in
        self._catching_up = catching_up
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._thread = thread
        self._masker = masker
        self._catch_up_every = catch_up_every
        self._queue: asyncio.Queue[tuple[MirrorEvent, Finished]] = asyncio.Queue()
        # Taken from the queue and not yet done with (posted, or no longer ours).
        self._in_hand: list[tuple[MirrorEvent, Finished]] = []
        # Handed over and not yet done with: event id -> when Parlant stored it (the backlog).
        self._waiting: dict[str, datetime | None] = {}

    @property
    def channel(self) -> str:
        return self._thread.channel

    @property
    def session_id(self) -> str:
        return self._thread.session_id

    def backlog(self) -> tuple[int, datetime | None]:
        """How many feed events wait to be posted here, and when the oldest was stored."""
        stored = [at for at in self._waiting.values() if at is not None]
        return len(self._waiting), min(stored, default=None)

    def offer(self, event: MirrorEvent, finished: Finished) -> None:
        self._waiting[event.id] = event.creation_utc
        self._waiting_in.add(self)
        self._queue.put_nowait((event, finished))

    async def run(self) -> None:
        try:
            await self._mirror()
        except LeaseLost:
            log.warning("mirror stopped: lease lost session=%s", self._thread.session_id)
        finally:
            self.let_go()

    def let_go(self) -> None:
        """Whatever was handed to this mirror and not posted is no longer its own: the feed
        cursor may move past it (whoever mirrors the session next catches up from its cursor).
        Called when it stops, and by `Mirrors.unfollow` (a task cancelled before it ran never
        reaches its `finally`)."""
        for item in self._in_hand:
            self._finish(*item)
        self._in_hand = []
        while not self._queue.empty():
            self._finish(*self._queue.get_nowait())

    def _finish(self, event: MirrorEvent, finished: Finished) -> None:
        self._waiting.pop(event.id, None)
        if not self._waiting:
            self._waiting_in.discard(self)
        if event.position is not None:
            finished(event.position)

    async def _mirror(self) -> None:
        session_id = self._thread.session_id
        async with self._catching_up:
            offset = await self._with_retries(partial(self._store.cursor, session_id))
            if offset is None:
                offset = (
                    await self._with_retries(lambda: start_offset(self._parlant, session_id)) or 0
                )
                await self._with_retries(partial(self._store.advance_cursor, session_id, offset))
            log.info(
                "mirroring session=%s from offset=%s thread=%s", session_id, offset, self._thread.ts
            )
            offset = await self._catch_up(offset)
        while True:
            try:
                # Not wait_for: on Python 3.11 it can swallow a cancel that lands as the queue
                # answers, and a mirror unfollowed (lease lost) must stop, not post on.
                async with asyncio.timeout(self._catch_up_every()):
                    self._in_hand = [await self._queue.get()]
            except TimeoutError:  # no feed on this agent: read the session instead
                async with self._catching_up:
                    offset = await self._catch_up(offset)
                continue
            first = self._in_hand[0][0]
            turn = Turn(taken=False)
            if first.offset >= offset and self._coalescable(first):
                # Its post waits for the channel anyway: wait first, then take along what
                # the thread received meanwhile.
                await self._caller.turn(self._thread.channel)
                turn = Turn(taken=True)
                while not self._queue.empty() and len(self._in_hand) < MAX_IN_HAND:
                    self._in_hand.append(self._queue.get_nowait())
            # Below the cursor: the catch-up posted it already.
            events = [event for event, _ in self._in_hand if event.offset >= offset]
            if events:
                offset = await self._post_all(events, turn)
            for item in self._in_hand:
                self._finish(*item)
            self._in_hand = []

    async def _catch_up(self, offset: int) -> int:
        """Everything the session has from `offset` on, read from Parlant (not the feed). Like
        a message from the feed, a short first message takes the channel's turn first and the
        session is read again once it comes, so what the customer wrote meanwhile goes in the
        same post: posted on a turn of its own, the customer's first message after a handoff
        waited a second round behind the agent's handoff message (about 100 s instead of 60
        at the busy hour)."""
        events = await self._with_retries(partial(self._read_from, offset)) or []
        shown = [event for event in events if mirror_label_and_text(event) is not None]
        turn = Turn(taken=False)
        if shown and self._coalescable(shown[0]) and not await self._posted(shown[0]):
            asked = time.monotonic()
            await self._caller.turn(self._thread.channel)
            turn = Turn(taken=True)
            # Read again only after a wait: a bridge starting with thousands of sessions to
            # catch up (and a channel with room) would read each twice for nothing.
            if time.monotonic() - asked > REREAD_AFTER_WAIT_S:
                events = await self._with_retries(partial(self._read_from, offset)) or events
        return await self._post_all(events, turn) if events else offset

    async def _posted(self, event: MirrorEvent) -> bool:
        """Whether the event is in the thread already (a replica died before moving the cursor
        past it): a catch-up that has nothing new to post first takes no turn of the channel."""
        status = await self._with_retries(
            partial(self._store.mirror_status, self._thread.session_id, event.id, 0)
        )
        return bool(status)

    async def _read_from(self, offset: int) -> list[MirrorEvent]:
        events = await self._parlant.sessions.list_events(
            self._thread.session_id,
            min_offset=offset,
            kinds=",".join(MIRRORED_KINDS),
            wait_for_data=0,
        )
        return [from_parlant(self._thread.session_id, event) for event in events]

    def _coalescable(self, event: MirrorEvent) -> bool:
        shown = mirror_label_and_text(event)
        return shown is not None and mirror_text.is_one_part(*shown, masker=self._masker)

    async def _post_all(self, events: list[MirrorEvent], turn: Turn) -> int:
        """Posts `events` (in offset order) and moves the cursor past them: each run of short
        messages (with whatever the thread does not show among them) as one post, a long
        message in its parts. Returns the cursor."""
        offset = events[0].offset
        start = 0
        while start < len(events):
            run = _coalescing_run(events[start:], self._coalescable)
            if sum(mirror_label_and_text(e) is not None for e in run) > 1:
                offset = await self._post_run(run, turn)
            else:
                for event in run:
                    offset = await self._post(event, turn)
            start += len(run)
        last = events[-1]
        # The customer has the last word in the thread: the agent may draft the answer.
        if self._customer_posted and last.kind == "message" and last.source == "customer":
            self._customer_posted(self._thread, last)
        return offset

    async def _post(self, event: MirrorEvent, turn: Turn) -> int:
        """Posts the event (if the thread shows it) and moves the cursor past it."""
        await self._with_retries(partial(self.mirror_event, event, turn))
        if mirror_label_and_text(event) is not None:
            crash_point("mirror.after_record")
        await self._with_retries(
            partial(self._store.advance_cursor, self._thread.session_id, event.offset + 1)
        )
        return event.offset + 1

    async def _post_run(self, run: list[MirrorEvent], turn: Turn) -> int:
        """Several short messages as one post, then the cursor past the run."""
        await self._with_retries(partial(self._mirror_coalesced, run, turn))
        crash_point("mirror.after_record")
        after = run[-1].offset + 1
        await self._with_retries(
            partial(self._store.advance_cursor, self._thread.session_id, after)
        )
        return after

    async def _mirror_coalesced(self, run: list[MirrorEvent], turn: Turn) -> None:
        """The shown events of `run` not yet in the thread, in one post, exactly once: each
        is recorded like a one-part event, so a restart or a lost answer looks them up (one
        read of the thread for all) rather than posting them again."""
        session_id = self._thread.session_id
        shown = [(event, s) for event in run if (s := mirror_label_and_text(event)) is not None]
        pending, unknown = [], set()
        for event, words in shown:
            status = await self._store.mirror_status(session_id, event.id, 0)
            if status:
                continue  # posted before a restart
            if status == "":
                unknown.add(event.id)
            pending.append((event, words))
        if unknown:
            found = await find_mirrored_posts(self._caller, self._thread, unknown)
            for event_id, ts in found.items():
                await self._store.mirror_posted(session_id, event_id, 0, ts)
            pending = [(event, words) for event, words in pending if event.id not in found]
        if not pending:
            return
        self._still_owned(session_id)
        ids = [event.id for event, _ in pending]
        for event_id in ids:
            await self._store.mirror_attempting(session_id, event_id, 0)
        crash_point("mirror.before_post")
        text, blocks = mirror_text.coalesced_message(
            [words for _, words in pending], masker=self._masker
        )
        ts = await self._caller.post_message(
            partial(find_mirrored_post, self._caller, self._thread, ids[0], 0),
            paced=turn.paced(),
            channel=self._thread.channel,
            thread_ts=self._thread.ts,
            text=text,
            blocks=blocks,
            metadata=metadata.mirror_batch_metadata(session_id, ids),
            unfurl_links=False,
            unfurl_media=False,
        )
        crash_point("mirror.after_post")
        for event, _ in pending:
            await self._store.mirror_posted(session_id, event.id, 0, ts)
            metrics.mirror_posted(event.creation_utc)
        log.info("mirrored session=%s events=%s coalesced slack_ts=%s", session_id, len(ids), ts)

    async def mirror_event(self, event: MirrorEvent, turn: Turn | None = None) -> None:
        shown = mirror_label_and_text(event)
        if shown is None:
            return
        turn = turn or Turn(taken=False)
        label, text = shown
        session_id = self._thread.session_id
        parts = mirror_text.mirrored_message(label, text, masker=self._masker)
        for part, (fallback, part_blocks) in enumerate(parts):
            posted = await post_once(
                self._caller,
                KeyedPostRecord(self._store, session_id, event.id, part),
                partial(find_mirrored_post, self._caller, self._thread, event.id, part),
                before_post=partial(self._still_owned, session_id),
                crash_before="mirror.before_post",
                crash_after="mirror.after_post",
                paced=turn.paced(),
                channel=self._thread.channel,
                thread_ts=self._thread.ts,
                text=fallback,
                blocks=part_blocks,
                metadata=metadata.mirror_metadata(session_id, event.id, part),
                unfurl_links=False,
                unfurl_media=False,
            )
            if not posted.now:
                continue  # posted before a restart, or found after a lost answer
            if part == 0:
                metrics.mirror_posted(event.creation_utc)
            log.info(
                "mirrored session=%s event=%s part=%s slack_ts=%s",
                session_id,
                event.id,
                part,
                posted.ts,
            )

    def _still_owned(self, session_id: str) -> None:
        if not self._owns(session_id):
            # The lease lapsed before its loss was noticed: another replica may mirror now.
            raise LeaseLost(session_id)

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


def _coalescing_run(
    events: list[MirrorEvent], coalescable: Callable[[MirrorEvent], bool]
) -> list[MirrorEvent]:
    """The leading events that can share one post: short shown messages (at most
    MAX_COALESCED) and the events the thread does not show among them; a long message alone."""
    run: list[MirrorEvent] = []
    shown = 0
    for event in events:
        visible = mirror_label_and_text(event) is not None
        if visible and not coalescable(event):
            return run or [event]
        if visible:
            if shown == MAX_COALESCED:
                break
            shown += 1
        run.append(event)
    return run


async def _back_off(session_id: str, failures: int, error: BaseException) -> int:
    delay = RETRY_BACKOFF_S[min(failures, len(RETRY_BACKOFF_S) - 1)]
    log.warning("mirror session=%s waiting %ss after: %r", session_id, delay, error)
    await asyncio.sleep(delay)
    return failures + 1


class Mirrors:
    """The SessionMirror of each session this replica mirrors; started and stopped by discovery
    and by Take over, fed by the feed follower."""

    def __init__(
        self,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        masker: Masker,
        owns: Callable[[str], bool],
    ) -> None:
        self._owns = owns
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._masker = masker
        self._mirrors: dict[str, SessionMirror] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Read every few seconds for the backlog: with 10,000 open, a walk over every mirror
        # was a fifth of an idle bridge's CPU (py-spy), and nearly all of them wait for nothing.
        self._waiting_in: set[SessionMirror] = set()
        self._channels: set[str] = set()
        # The sessions with a mirror running, for discovery's set arithmetic (see `followed`).
        self._followed: set[str] = set()
        self._on_ended: list[Callable[[str], None]] = []
        # Told when a live customer message is in its thread (slack_bridge/drafts.py).
        self.customer_posted: Callable[[ThreadLink, MirrorEvent], None] | None = None
        # Set when the agent has no feed (feed_follower.py): each mirror reads its session.
        self.catch_up_every: float | None = None
        # Mirrors starting at once (a restart with 10,000 open) catch up a few at a time:
        # thousands of requests queued on one httpx pool cost a core in httpcore's pool scan.
        self._catching_up = asyncio.Semaphore(CATCH_UP_CONCURRENCY)

    def _tell_customer_posted(self, thread: ThreadLink, event: MirrorEvent) -> None:
        if self.customer_posted is not None:
            self.customer_posted(thread, event)

    def on_ended(self, callback: Callable[[str], None]) -> None:
        """Called with a session id when its mirror stopped by itself (not unfollowed)."""
        self._on_ended.append(callback)

    def _ended(self, session_id: str, task: asyncio.Task[None]) -> None:
        _log_mirror_end(task)
        if self._tasks.get(session_id) is task:
            self._followed.discard(session_id)
        if not task.cancelled():
            for callback in self._on_ended:
                callback(session_id)

    def backlog(self) -> dict[str, tuple[int, datetime | None]]:
        """Per channel: feed events waiting to be posted, and when the oldest was stored."""
        channels: dict[str, tuple[int, datetime | None]] = dict.fromkeys(self._channels, (0, None))
        for mirror in self._waiting_in:
            if not self.following(mirror.session_id):
                continue
            count, oldest = mirror.backlog()
            total, first = channels.get(mirror.channel, (0, None))
            if oldest is not None and (first is None or oldest < first):
                first = oldest
            channels[mirror.channel] = (total + count, first)
        return channels

    def active(self) -> int:
        """How many sessions are being mirrored now (the bridge's metrics)."""
        return sum(1 for task in self._tasks.values() if not task.done())

    def following(self, session_id: str) -> bool:
        task = self._tasks.get(session_id)
        return task is not None and not task.done()

    def followed(self) -> set[str]:
        """The sessions mirrored here, as a set to compute with (not to change): with 10,000
        open, a `following` call per session every discovery interval was a tenth of an idle
        bridge. A mirror that has just stopped may be in it until its end is handled (one
        turn of the event loop), which tells discovery anyway (`on_ended`)."""
        return self._followed

    def offer(self, event: MirrorEvent, finished: Finished) -> bool:
        """Hand a feed event to its session's mirror; False when this replica does not mirror
        that session (the event is not ours)."""
        if not self.following(event.session_id):
            return False
        self._mirrors[event.session_id].offer(event, finished)
        return True

    def follow(self, thread: ThreadLink) -> None:
        """Start mirroring the session, if this replica holds its lease (only the holder
        mirrors, so no message is posted twice)."""
        if self.following(thread.session_id) or not self._owns(thread.session_id):
            return
        mirror = SessionMirror(
            self._parlant,
            self._caller,
            self._store,
            thread,
            self._masker,
            self._owns,
            lambda: self.catch_up_every,
            self._catching_up,
            self._tell_customer_posted,
            self._waiting_in,
        )
        self._channels.add(thread.channel)
        self._followed.add(thread.session_id)
        task = asyncio.create_task(mirror.run(), name=f"mirror-{thread.session_id}")
        task.add_done_callback(partial(self._ended, thread.session_id))
        self._mirrors[thread.session_id] = mirror
        self._tasks[thread.session_id] = task

    def unfollow(self, session_id: str) -> None:
        self._followed.discard(session_id)
        mirror = self._mirrors.pop(session_id, None)
        task = self._tasks.pop(session_id, None)
        if task is not None:
            task.cancel()
        if mirror is not None:
            mirror.let_go()

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        for mirror in self._mirrors.values():
            mirror.let_go()
        self._tasks.clear()
        self._mirrors.clear()
        self._followed.clear()


def _log_mirror_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("mirror %s stopped: %r", task.get_name(), task.exception())
