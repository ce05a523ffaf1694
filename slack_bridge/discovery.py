"""Discovery: which escalated sessions need the bridge's attention, every few seconds.

It lists the sessions labelled `handoff` (Parlant's list has no filter on metadata), opens the
threads the handoff tool could not, starts a mirror for each session with a human and stops it
when the session goes back to the AI or is resolved, rewrites root messages whose record changed
elsewhere (the dashboard), and posts the SLA notices that fell due.

With several bridge replicas, each session's work is done by the replica holding its lease
(leases.py). Every pass tries to take the leases of the active sessions this replica does not
hold, in one statement: those nobody live holds are taken over. A lease taken any other way
(the root rewrite after a delivered reply, a button) starts the session's mirror at once
(`taken`), and a pass also restarts the mirror of any held session that has none: whoever
holds a lease mirrors. A session that is no longer active is worked on (final root rewrite,
handback line) under its lease, which is then given up.

An escalation whose record did not change is looked at again only when its clocks change
something (handoff/sla.py `next_changes`): a breach or reminder falls due (at once), or its SLA
line reads differently (as the chat.update budget allows, longest waiting first). Looking at
all of them every few seconds kept a core 8% busy at 10,000 open escalations. A full resync
every BRIDGE_RESYNC_SECONDS stays as a safety net for state changed outside the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from parlant.client.core.api_error import ApiError

from handoff.operator_api import AsyncOperatorApi
from handoff.record import ACTIVE_STATUSES, HandoffRecord, read_record
from slack_bridge.handback_line import HandbackLines
from slack_bridge.leases import Leases
from slack_bridge.listing import ListedSession, ListingUnreadable, OpenListing
from slack_bridge.mirror import Mirrors
from slack_bridge.root_sync import RootSync
from slack_bridge.settings import DISCOVERY_INTERVAL_S, UNCHANGED_RESYNC_S
from slack_bridge.sla_notices import SlaNotices
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore, ThreadLink
from slack_kit.slack_api import AnswerLost, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

# Discovery lists at most so often that the listing takes 1/LISTING_SHARE of the time: with
# 10,000 open escalations a whole listing costs the agent about 0.2 s, so the pass after one
# waits 8 s; the incremental listings in between take milliseconds.
LISTING_SHARE = 40
# The longest a pass waits for that (the 4 MB listing's 8 s). A listing's time is also the
# machine's load: a slow incremental listing made the next pass wait 30 s and more, and a new
# handoff the feed cannot announce (the customer wrote while the handoff tool ran, so its
# turn was cancelled and stored no event after the record) was not mirrored until then.
LONGEST_PASS_WAIT_S = 8.0
# Syncs a pass starts between two turns of the event loop; Slack's pacing still applies.
DISCOVERY_CONCURRENCY = 16
# Sessions looked at between two turns of the event loop when a pass decides what is due
# (about 3 ms of Python here: an operator's reply waits no longer than that for a pass).
SCAN_BATCH = 250
# Why a mirror for a lease taken outside a pass may not start now (the next pass retries).
_START_FAILURES: tuple[type[Exception], ...] = (ApiError, httpx.TransportError, *STORE_UNAVAILABLE)
# Parlant unreachable or answering with an error: the pass (or the session's sync) is tried again.
_PARLANT_FAILURES: tuple[type[Exception], ...] = (
    ApiError,
    httpx.TransportError,
    httpx.HTTPStatusError,
    OSError,
)
# Why one session's sync may fail; the next pass tries it again.
_SYNC_FAILURES: tuple[type[Exception], ...] = (
    SlackUnavailable,
    AnswerLost,
    SlackRejected,
    *_PARLANT_FAILURES,
    *STORE_UNAVAILABLE,
)
# With more SLA lines due than the chat.update budget takes, the next pass for them waits until
# it takes this many: a pass per freed slot would loop over every session every 2 s.
SLA_TICK_BATCH = 10


@dataclass(frozen=True)
class Synced:
    """A session as last synced: its metadata then, when (monotonic), and the instants (epoch
    seconds, inf for never) at which its clocks next change its SLA line or notices."""

    metadata: Mapping[str, Any]
    at: float
    line_due: float
    notice_due: float


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else math.inf


class Discovery:
    def __init__(
        self,
        api: AsyncOperatorApi,
        store: BridgeStore,
        roots: RootSync,
        sla_notices: SlaNotices,
        mirrors: Mirrors,
        handback_lines: HandbackLines,
        leases: Leases,
        interval_s: float = DISCOVERY_INTERVAL_S,
        resync_s: float = UNCHANGED_RESYNC_S,
    ) -> None:
        self._leases = leases
        # Active sessions listed in the last pass: those not held are tried every pass.
        self._active: set[str] = set()
        self._listing = OpenListing(api, full_every_s=resync_s)
        self._store = store
        self._roots = roots
        self._sla_notices = sla_notices
        self._mirrors = mirrors
        self._handback_lines = handback_lines
        self._interval_s = interval_s
        self._resync_s = resync_s
        self._synced: dict[str, Synced] = {}
        self._listed: list[ListedSession] = []
        self._listed_by_id: dict[str, ListedSession] = {}
        # Mirrors being started for leases taken outside a pass (see `taken`).
        self._starting: set[asyncio.Task[None]] = set()
        # Sessions being synced (`_sync`), by id: a pass starts no second sync of one.
        self._syncing: dict[str, asyncio.Task[None]] = {}
        # The earliest instant any synced session is due by its clocks (epoch seconds), and by
        # the safety resync (monotonic): until then an unchanged listing needs no pass.
        self._next_due = 0.0
        self._next_resync = 0.0
        self._last_pass_failed = False
        self._listing_s = 0.0
        self._nudged = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.discover()
                except _PARLANT_FAILURES as error:
                    log.warning("discovery: parlant unreachable: %r", error)
                except STORE_UNAVAILABLE as error:
                    log.warning("discovery: state store unreachable: %r", error)
                except ListingUnreadable as error:
                    log.warning("discovery: unreadable listing: %r", error)
                await self._until_next_pass()
        finally:
            # Stopped: the syncs and mirror starts it began stop with it.
            tasks = [*self._syncing.values(), *self._starting]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _until_next_pass(self) -> None:
        """The discovery interval, or longer when listing costs the agent more than
        1/LISTING_SHARE of its time (10,000 open escalations are a 4 MB listing); a nudge from
        the feed (an event of a session not listed yet: a new handoff) ends a longer wait."""
        await asyncio.sleep(self._interval_s)
        longer = min(LISTING_SHARE * self._listing_s, LONGEST_PASS_WAIT_S) - self._interval_s
        deadline = time.monotonic() + longer
        # Leases still come free every interval: a dead replica's sessions are taken within
        # the lease and one interval, however costly the listing. One statement, no listing;
        # what it takes is brought up to date by the pass it starts now. (The listing's time
        # is also the machine's load and a failover's retries: under load the wait reached
        # 15 to 20 s and the chaos run's takeovers went over the bound.)
        while (left := deadline - time.monotonic()) > 0 and not self._nudged.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, self._interval_s)):  # see leases.renew
                    await self._nudged.wait()
            if not self._nudged.is_set() and await self._free_leases_taken():
                break
        self._nudged.clear()

    async def _free_leases_taken(self) -> bool:
        """Whether a session listed as active that no live replica held is this one's now."""
        unheld = self._active - self._leases.held()
        if not unheld:
            return False
        try:
            return bool(await self._leases.acquire(unheld, syncing=True))
        except STORE_UNAVAILABLE as error:
            log.warning("discovery: state store unreachable: %r", error)
            return False

    def nudge(self, session_id: str) -> None:
        """The feed saw an event of `session_id`, which this replica does not mirror: if the
        last listing did not have it as active, a pass is due now rather than later."""
        if session_id not in self._active:
            self._nudged.set()

    async def discover(self) -> None:
        started = time.monotonic()
        changed = await self._listing.refresh()
        now = time.monotonic()
        self._listing_s = now - started
        wall = time.time()
        if changed:
            self._listed = self._listing.sessions
            self._listed_by_id = {s.id: s for s in self._listed}
            active = set()
            for n, s in enumerate(self._listed):
                if n % SCAN_BATCH == SCAN_BATCH - 1:
                    await asyncio.sleep(0)
                if _active(s):
                    active.add(s.id)
            self._active = active
        elif not self._last_pass_failed and wall < self._next_due and now < self._next_resync:
            # Nothing changed in Parlant, nothing to retry, no clock or resync due: only a
            # session another replica held may have come free (one statement).
            held = self._leases.held()
            unheld = self._active - held
            unmirrored = bool((self._active & held) - self._mirrors.followed())
            if not unmirrored and (
                not unheld or not await self._leases.acquire(unheld, syncing=True)
            ):
                return
        self._last_pass_failed = False
        listed = self._listed
        due: list[ListedSession] = []
        ticking: list[tuple[float, int, ListedSession]] = []
        followed = self._mirrors.followed()
        for n, s in enumerate(listed):
            if n % SCAN_BATCH == SCAN_BATCH - 1:
                await asyncio.sleep(0)  # 10,000 sessions are ~30 ms of Python: let replies in
            if self._needs_sync(s, now, wall) or (
                # Not held: try to take it; held but not mirrored: its mirror ended, restart it.
                s.id in self._active and not (self._leases.holds(s.id) and s.id in followed)
            ):
                due.append(s)
            elif (line_due := self._synced[s.id].line_due) <= wall:
                ticking.append((line_due, n, s))
        # SLA lines only as the chat.update budget takes them, those waiting longest first
        # (the few the budget takes, not a sort of thousands in one turn of the loop).
        room = self._roots.sla_tick_room()
        # Still syncing from an earlier pass (waiting for Slack): not again, and not looked at
        # (10,000 redraws waiting for chat.update were a third of an idle bridge's passes).
        lines = [s for _, _, s in heapq.nsmallest(room, ticking) if s.id not in self._syncing]
        backlog = max(0, len(ticking) - room)
        due = [s for s in due if s.id not in self._syncing]
        await self._leases.acquire(
            (s.id for s in [*due, *lines] if read_record(s.metadata) is not None), syncing=True
        )
        # Held leases of sessions no longer listed (deleted) are given up.
        gone = list(self._leases.held() - {s.id for s in listed})
        for session_id in gone:
            self._mirrors.unfollow(session_id)
        await self._leases.release(gone)
        # Each due session is synced by a task of its own, not awaited here: a sync may wait
        # minutes for Slack's allowance (a root rewrite's turn in chat.update's 45 a minute, a
        # notice's turn in its channel), and a pass that waited for its syncs held back every
        # later session's mirror and every new handoff behind them (a bridge starting with
        # 10,000 roots to redraw started 48 mirrors a minute). Started a batch at a time, so
        # the mirrors' sockets are served between batches.
        for n, session in enumerate(due, 1):
            self._start_sync(session, now, wall)
            if n % DISCOVERY_CONCURRENCY == 0:
                await asyncio.sleep(0)
        # SLA lines one per slot of chat.update's shared allowance (an SLA-only rewrite goes
        # only when the slot is free, `RootSync.refresh`): started at once, all but the first
        # found the slot taken and stayed due, and the bridge passed over all its sessions
        # every interval to try again (at 10,000 open, most of an idle bridge's CPU).
        spacing = self._roots.sla_tick_spacing()
        for n, session in enumerate(lines):
            self._start_sync(session, now, wall, after=n * spacing)
        lines_end = wall + len(lines) * spacing
        listed_ids = {s.id for s in listed}
        for session_id in [i for i in self._synced if i not in listed_ids]:
            del self._synced[session_id]
        self._plan_next_pass(now, wall, backlog, lines_end)

    def _start_sync(
        self, session: ListedSession, now: float, wall: float, after: float = 0
    ) -> None:
        task = asyncio.create_task(self._sync(session, now, wall, after), name=f"sync-{session.id}")
        self._syncing[session.id] = task
        task.add_done_callback(partial(self._sync_ended, session.id))

    async def _sync(
        self, session: ListedSession, now: float, wall: float, after: float = 0
    ) -> None:
        """One session brought up to its record, `after` seconds from now; what is due next
        is noted for later passes, and a failure makes the next pass a full one (it tries the
        session again)."""
        if after:
            await asyncio.sleep(after)
            now, wall = time.monotonic(), time.time()
            # As listed now: a claim or a resolve meanwhile is not undone by an older record.
            session = self._listed_by_id.get(session.id, session)
        record = read_record(session.metadata)
        if record is None:
            return  # the handoff tool has labelled it but not yet written the record
        if not self._leases.holds(session.id):
            self._mirrors.unfollow(session.id)  # another replica works on it
            return
        try:
            shows_now = await self._sync_session(session, record)
        except _SYNC_FAILURES as error:  # Slack, Parlant or the state store unreachable
            log.warning("discovery: session=%s not synced, tried again: %r", session.id, error)
            self._failed()
            return
        except Exception:  # a task's error is nobody's to catch: logged, and tried again
            log.exception("discovery: sync failed session=%s", session.id)
            self._failed()
            return
        changes = self._roots.sla_changes(record, datetime.fromtimestamp(wall, UTC))
        synced = Synced(
            session.metadata,
            # Spread over the second half of the interval, so thousands synced in one pass
            # are not all resynced in one later pass.
            now - random.uniform(0, self._resync_s / 2),
            # A line the budget held back stays due: the next pass with room takes it.
            _epoch(changes.line) if shows_now else wall,
            _epoch(changes.notice),
        )
        self._synced[session.id] = synced
        # The pass that started this planned its next one without it; a line the budget held
        # back waits for a batch of room, as `_plan_next_pass` has it, and at least a batch
        # of slots of the shared allowance (another replica's lines or a status change took
        # this one's slot).
        line = (
            synced.line_due
            if shows_now
            else wall
            + max(
                self._roots.sla_tick_wait(SLA_TICK_BATCH),
                SLA_TICK_BATCH * self._roots.sla_tick_spacing(),
            )
        )
        self._next_due = min(self._next_due, line, synced.notice_due)
        if record.get("status") not in ACTIVE_STATUSES:
            await self._leases.release([session.id])

    def _sync_ended(self, session_id: str, _: asyncio.Task[None]) -> None:
        self._syncing.pop(session_id, None)

    def _failed(self) -> None:
        self._last_pass_failed = True
        self._next_due = 0.0

    def _plan_next_pass(self, now: float, wall: float, backlog: int, lines_end: float) -> None:
        """When an unchanged listing next needs a pass: a notice due, an SLA line due (with a
        backlog of lines, once the budget takes a batch of them, not for every freed slot, and
        not before the lines this pass started have had their slots), the safety resync.
        Until then a pass is a 304 and no Python loop over the sessions."""
        notice = line = math.inf
        oldest = now
        for synced in self._synced.values():
            notice = min(notice, synced.notice_due)
            line = min(line, synced.line_due)
            oldest = min(oldest, synced.at)
        if backlog:
            batch = min(backlog, SLA_TICK_BATCH)
            line = max(line, wall + self._roots.sla_tick_wait(batch))
        line = max(line, lines_end)
        self._next_due = min(notice, line)
        self._next_resync = oldest + self._resync_s

    def taken(self, session_id: str) -> None:
        """This replica took the session's lease, by whichever path (leases.on_taken): the
        holder mirrors, so an active session's mirror starts now rather than on a later pass,
        and the next pass looks at the session afresh either way (its record may have moved
        on since the last listing)."""
        self.forget(session_id)
        listed = self._listed_by_id.get(session_id)
        if listed is None or not _active(listed) or self._mirrors.following(session_id):
            return
        task = asyncio.create_task(self._start_mirror(listed), name=f"take-{session_id}")
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _start_mirror(self, session: ListedSession) -> None:
        try:
            # Read afresh: the lease may have been taken to post a handback line, and a
            # session back with the AI is not mirrored (the listing may not show it yet).
            record = await self._roots.current_record(session.id)
            if record is None or record.get("status") not in ACTIVE_STATUSES:
                return
            thread = await self._thread_of(session.id, record)
        except _START_FAILURES as error:
            log.warning("mirror not started session=%s: %r (the next pass)", session.id, error)
            return
        # No thread yet: the next pass opens it, under this lease, and mirrors.
        if thread is not None:
            self._mirrors.follow(thread)

    def forget(self, session_id: str) -> None:
        """Look at the session afresh on the next pass (its lease was lost, its mirror ended)."""
        self._synced.pop(session_id, None)
        self._next_due = 0.0

    def _needs_sync(self, session: ListedSession, now: float, wall: float) -> bool:
        """Never synced, its record changed, a notice may be due, or the safety resync."""
        synced = self._synced.get(session.id)
        if synced is None:
            return True
        return (
            (synced.metadata is not session.metadata and synced.metadata != session.metadata)
            or synced.notice_due <= wall
            or now - synced.at >= self._resync_s
        )

    async def _sync_session(self, session: ListedSession, record: HandoffRecord) -> bool:
        """Bring the session's thread up to its record; False if its root message still
        waits for room in the chat.update budget to show the current SLA line."""
        thread = await self._thread_of(session.id, record)
        if thread is None:
            if record.get("status") not in ACTIVE_STATUSES:
                return True
            thread = await self._roots.post_pending(session, record)
        active = record.get("status") in ACTIVE_STATUSES
        following = self._mirrors.following(session.id)
        if active and not following:
            self._mirrors.follow(thread)
        elif not active and following:
            self._mirrors.unfollow(session.id)
            log.info("stopped mirroring session=%s status=%s", session.id, record.get("status"))
        if record.get("status") == "returned":
            await self._handback_lines.ensure(thread, str(record.get("returned_at") or ""))
        sla = self._roots.sla_of(record)
        shows_now = await self._roots.refresh(session, record, thread, sla)
        if sla is not None:
            await self._sla_notices.check(session, record, thread, sla)
        return shows_now

    async def _thread_of(self, session_id: str, record: HandoffRecord) -> ThreadLink | None:
        known = await self._store.thread_for_session(session_id)
        if known:
            return known
        slack = record.get("slack") or {}
        if slack.get("state") == "posted" and slack.get("channel") and slack.get("ts"):
            await self._store.link_thread(session_id, slack["channel"], slack["ts"])
            if slack.get("rendered"):
                # What the handoff tool drew: the root is rewritten only once it shows less.
                await self._store.set_root_rendering(session_id, slack["rendered"])
            await self._roots.count_root(slack["channel"], slack["ts"])
            return ThreadLink(session_id, slack["channel"], slack["ts"])
        return None


def _active(session: ListedSession) -> bool:
    record = read_record(session.metadata)
    return record is not None and record.get("status") in ACTIVE_STATUSES
