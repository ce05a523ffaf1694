"""One long poll per bridge process: the agent's escalation feed, from a durable cursor.

The follower reads `/escalations/feed` after its cursor and hands each event of a session this
replica mirrors to that session's mirror (mirror.py); the others are not ours (another replica
holds the session, or it is not mirrored yet: a mirror that starts catches up from its own
per-session cursor, so nothing it missed here is lost). An event of a session discovery has not
listed as active (a new handoff) nudges discovery to list now.

The feed cursor is stored under this replica's id and moves only past positions that are done:
read, and if handed to a mirror, posted (or let go). A restart resumes from it; duplicates
are prevented by each session's cursor and mirror records, not by this one. With no cursor
stored (the first start, a new replica id), the follower starts at the feed's head: every
mirror that starts catches up by itself, so nothing before the head is needed.

An agent whose session store has no feed (Parlant's own `local`, MongoDB: 404) is followed the
only other way there is: every mirror reads its session every FALLBACK_CATCH_UP_S.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from handoff.operator_api import AsyncOperatorApi
from slack_bridge import metrics
from slack_bridge.feed import FeedMissing, FeedProgress, read_feed
from slack_bridge.mirror import Mirrors
from slack_bridge.store import BridgeStore

log = logging.getLogger(__name__)

# Under the feed client's read timeout; the agent caps a wait at 60 s.
FEED_WAIT_S = 25
# Events per read (the agent allows up to 1,000).
FEED_PAGE = 500
FALLBACK_CATCH_UP_S = 2.0
# How often to ask again whether the agent has a feed after a 404 (it may be upgraded).
FEED_RECHECK_S = 60.0
RETRY_BACKOFF_S = (0.5, 1, 2, 3, 5)
SAVE_INTERVAL_S = 2.0


class FeedFollower:
    def __init__(
        self,
        api: AsyncOperatorApi,
        store: BridgeStore,
        replica_id: str,
        mirrors: Mirrors,
        not_followed: Callable[[str], None],
    ) -> None:
        self._not_followed = not_followed
        self._api = api
        self._store = store
        self._name = replica_id
        self._mirrors = mirrors
        self.progress: FeedProgress | None = None
        self._saved: int | None = None
        self._failures = 0

    async def run(self) -> None:
        await asyncio.gather(self._read(), self._save_loop())

    async def _save_loop(self) -> None:
        """The done position is stored every SAVE_INTERVAL_S when it moved (one small
        statement), not after every read: with SQLite's synced commits a save per read was a
        tenth of the bridge's time while mirroring (py-spy at 10,000 open). A restart resumes
        at most that much earlier; the per-session records keep that from posting twice."""
        while True:
            await asyncio.sleep(SAVE_INTERVAL_S)
            try:
                await self.save()
            except Exception as error:  # the next save or read stores it
                log.warning("feed cursor not saved: %r", error)

    async def _read(self) -> None:
        while True:
            try:
                await self._follow()
            except FeedMissing:
                if self._mirrors.catch_up_every is None:
                    log.warning(
                        "the agent has no escalation feed (its session store is Parlant's own);"
                        " each mirrored session is read every %ss instead",
                        FALLBACK_CATCH_UP_S,
                    )
                self._mirrors.catch_up_every = FALLBACK_CATCH_UP_S
                await asyncio.sleep(FEED_RECHECK_S)
            except Exception as error:  # Parlant or the bridge store unreachable: try again
                delay = RETRY_BACKOFF_S[min(self._failures, len(RETRY_BACKOFF_S) - 1)]
                log.warning("feed: read failed, waiting %ss: %r", delay, error)
                self._failures += 1
                await asyncio.sleep(delay)

    async def _follow(self) -> None:
        if self.progress is None:
            stored = await self._store.feed_cursor(self._name)
            if stored is None:
                stored = (await read_feed(self._api, 0, 1, 0)).head
                log.info("feed: no stored cursor, starting at the head position=%s", stored)
            else:
                log.info("feed: resuming after position=%s", stored)
            self.progress = FeedProgress(stored)
            self._saved = stored
        progress = self.progress
        after = progress.safe()
        while True:
            with metrics.long_poll():
                page = await read_feed(self._api, after, FEED_PAGE, FEED_WAIT_S)
            if self._mirrors.catch_up_every is not None:
                log.info("feed: the agent has an escalation feed now; following it")
                self._mirrors.catch_up_every = None
            if page.head < after:
                log.warning(
                    "feed: the agent's last position %s is below the cursor %s (its data was"
                    " reset?); starting again at it",
                    page.head,
                    after,
                )
                progress.reset(page.head)
                after = page.head
                continue
            for event in page.events:
                assert event.position is not None
                progress.handed(event.position)
                if not self._mirrors.offer(event, progress.finished):
                    progress.finished(event.position)
                    self._not_followed(event.session_id)
            progress.read_to(page.next)
            after = page.next
            self._failures = 0

    async def _save(self, position: int) -> None:
        if position != self._saved:
            await self._store.set_feed_cursor(self._name, position)
            self._saved = position

    async def save(self) -> None:
        """Store how far the feed is done (a clean stop: the next start resumes there)."""
        if self.progress is not None:
            await self._save(self.progress.safe())
