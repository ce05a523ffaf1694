"""Which escalated sessions this bridge replica works on: leases in the shared store.

Every session's outbound work (its mirror, its root message, SLA notices, the handback line)
is done by the one replica holding its lease, so with several replicas nothing is posted twice.
Discovery acquires the leases of active sessions nobody live holds; this replica renews all it
holds every third of the lease time in one statement. A lease it fails to renew (another
replica took it after it expired, or the database did not answer before it ran out) is
dropped at once and its session's work stopped (`on_lost`). A dead replica stops renewing, so
its sessions are taken over within the lease time plus one discovery pass.

Whoever holds a lease mirrors the session, however the lease was taken (a discovery pass, the
root rewrite after a delivered reply, a button, a handback): `acquire` is the one way to take
leases, and it tells `on_taken` of every lease it newly took, so discovery starts the mirror
(a survivor that took a dead replica's session through a reply once held it unmirrored until
the hourly resync).

Validity is also kept locally, from when each acquire or renewal was *sent*: the database's
expiry is set later than that, so this replica always stops before another may start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_bridge.store import BridgeStore

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, store: BridgeStore, owner: str, ttl_s: float) -> None:
        self._store = store
        self.owner = owner
        self.ttl_s = ttl_s
        self._valid_until: dict[str, float] = {}  # session id -> monotonic deadline
        self._on_lost: list[Callable[[str], None]] = []
        self._on_taken: list[Callable[[str], None]] = []

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """Called with a session id as soon as its lease is no longer this replica's."""
        self._on_lost.append(callback)

    def on_taken(self, callback: Callable[[str], None]) -> None:
        """Called with a session id as soon as this replica took its lease (it did not hold
        it before), whichever path took it."""
        self._on_taken.append(callback)

    def holds(self, session_id: str) -> bool:
        deadline = self._valid_until.get(session_id)
        return deadline is not None and time.monotonic() < deadline

    def _none_run_out(self, now: float) -> bool:
        """The usual case (a renewal drops those that ran out): then no loop in Python over
        10,000 leases, which `held` is asked for several times a discovery interval."""
        return not self._valid_until or min(self._valid_until.values()) > now

    def held(self) -> set[str]:
        now = time.monotonic()
        if self._none_run_out(now):
            return set(self._valid_until)
        return {sid for sid, deadline in self._valid_until.items() if now < deadline}

    async def acquire(self, session_ids: Iterable[str], *, syncing: bool = False) -> set[str]:
        """Take the leases among `session_ids` that nobody live holds; returns the ones this
        replica holds now (taken before or now). `syncing`: the caller (a discovery pass)
        brings every session it takes up to date itself, mirror included, so `on_taken` is
        not told (thousands taken at once would each start a second look-up)."""
        asked = set(session_ids)
        wanted = sorted(asked - self.held())
        if wanted:
            sent = time.monotonic()
            taken = await self._store.acquire_leases(self.owner, wanted, self.ttl_s)
            for session_id in taken:
                self._valid_until[session_id] = sent + self.ttl_s
                log.info("lease taken session=%s replica=%s", session_id, self.owner)
            # Not held before (`wanted` left out what was held): the session's work is ours now.
            for session_id in [] if syncing else taken:
                for callback in self._on_taken:
                    callback(session_id)
        return {sid for sid in asked if self.holds(sid)}

    async def release(self, session_ids: Iterable[str]) -> None:
        """Give leases up (the session ended, or this replica stops), so another replica need
        not wait for them to expire."""
        mine = [sid for sid in session_ids if self._valid_until.pop(sid, None) is not None]
        if mine:
            await self._store.release_leases(self.owner, mine)

    async def release_all(self) -> None:
        await self.release(list(self._valid_until))

    async def renew(self) -> None:
        """One renewal of every lease held; drops (and reports) those not renewed in time."""
        held = list(self._valid_until)
        if held:
            sent = time.monotonic()
            try:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that lands as the
                # renewal answers, and a stopped replica renewed its leases on and on (the
                # takeover test, under load).
                async with asyncio.timeout(self.ttl_s / 3):
                    kept = await self._store.renew_leases(self.owner, held, self.ttl_s)
            except Exception as error:  # a time-out, or any error of the store or its driver
                log.warning("lease renewal failed replica=%s: %r", self.owner, error)
            else:
                # Those released meanwhile are left out (no longer in `_valid_until`).
                renewed = kept & self._valid_until.keys()
                self._valid_until.update(dict.fromkeys(renewed, sent + self.ttl_s))
                for session_id in [s for s in held if s in self._valid_until and s not in kept]:
                    self._lose(session_id, "held by another replica")
        now = time.monotonic()
        if not self._none_run_out(now):
            for session_id, deadline in list(self._valid_until.items()):
                if deadline <= now:
                    self._lose(session_id, "not renewed in time")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            await self.renew()

    def _lose(self, session_id: str, why: str) -> None:
        self._valid_until.pop(session_id, None)
        log.warning("lease lost session=%s replica=%s: %s", session_id, self.owner, why)
        for callback in self._on_lost:
            callback(session_id)
