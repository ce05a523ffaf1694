"""Which bridge replicas may have swallowed an operator's reply: heartbeats in the shared store.

Slack spreads events over the replicas' connections. A reply whose event went to a replica
that died before storing it is sent again by Slack only once its acknowledgement is overdue
(3 s in Socket Mode), later than the outbox's settling window (BRIDGE_REPLY_SETTLE_SECONDS,
0.7 s): a reply written after it in the thread, taken in by a live replica meanwhile, went to the
customer first (6 replies out of order in ten chaos seeds). Holding every reply 3 s would order
those too, at 3 s a reply.

Instead each replica process writes a heartbeat every HEARTBEAT_S. Before delivering a reply,
the outbox asks which other replicas were not seen since the reply was taken in (plus
SILENCE_S), nor in the last STALE_S: only such a replica, dead or stalled, can be holding an
earlier reply that is not in the outbox yet. (With a settling window shorter than
STALE_S, a replica that died in that window is not yet silent: order is then as good as
the window makes it, as before.) Only then, and only for a reply written within
RESEND_HORIZON_S of that replica going quiet, is the thread's history read from Slack, over
the seconds that replica could have swallowed (`history_window`); any earlier reply missing
from the outbox is taken in from there and delivered first (slack_bridge/inbound.py). Slack's
own re-send of it later finds it stored and changes nothing. With every replica alive,
nothing is read and no reply waits longer than the settling window.

Heartbeats are per process, not per BRIDGE_REPLICA_ID: a replica restarted under its name is a
new process, and the dead one's silence must still show. A replica that stops cleanly removes
its row; a dead one's row is forgotten after FORGET_AFTER_S (Slack has re-sent what it held
long before).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta

from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore

log = logging.getLogger(__name__)

# Often enough that a replica dead within the settling window (BRIDGE_REPLY_SETTLE_SECONDS,
# 0.7 s by default) is silent by its end: the window must exceed STALE_S (0.55 s).
HEARTBEAT_S = 0.25
# A replica is silent for a reply when it was not seen for this long after the reply was taken
# in: a live one writes every HEARTBEAT_S, and by the end of the settling window it has written
# at least once since then. One that died holding an earlier reply was last seen before that.
SILENCE_S = 0.3
# ...and not seen in this long either (so a short settling window does not make every live
# replica look silent): more than one heartbeat, with room for a busy event loop.
STALE_S = HEARTBEAT_S + SILENCE_S
FORGET_AFTER_S = 60.0
# How long before its last heartbeat a replica may have been handed a reply it never stored.
LOOKBACK_S = 10.0
# Slack's `ts` is Slack's clock, the heartbeats the database's: windows are widened by this.
CLOCK_MARGIN_S = 2.0
# Slack re-sends what a dead connection held after 3 s (Socket Mode; at once in HTTP mode, the
# balancer answering for the dead replica): a reply written this long after a replica went
# quiet reaches the outbox after anything Slack re-sent for it, and reads nothing. Without
# this, a restarted replica (it has read no thread yet) read every thread once per death.
RESEND_HORIZON_S = 8.0


def history_window(
    reply_ts: float, checked_to: float | None, silent_seen_at: list[float]
) -> tuple[float, float] | None:
    """Pure: the span of the thread's history (oldest, latest; Slack ts seconds, both
    exclusive) to read for replies that silent replicas may have swallowed before the reply at
    `reply_ts`; None when there is nothing to read. `checked_to`: the thread was read up to
    there already, so only a replica seen after it (less the clock margin) can add anything."""
    relevant = [
        s
        for s in silent_seen_at
        if (checked_to is None or s + CLOCK_MARGIN_S > checked_to)
        and reply_ts < s + RESEND_HORIZON_S + CLOCK_MARGIN_S
    ]
    if not relevant:
        return None
    oldest = min(relevant) - LOOKBACK_S - CLOCK_MARGIN_S
    if checked_to is not None:
        oldest = max(oldest, checked_to)
    return (oldest, reply_ts) if oldest < reply_ts else None


class ReplicaWatch:
    def __init__(self, store: BridgeStore, replica_id: str) -> None:
        self._store = store
        # Unique per process: see the module's doc.
        self.instance = f"{replica_id}/{secrets.token_hex(4)}"

    async def run(self) -> None:
        while True:
            try:
                await self._store.replica_seen(self.instance, FORGET_AFTER_S)
            except STORE_UNAVAILABLE as error:
                # Others then see this replica as silent and read a thread's history before
                # delivering: slower, never wrong.
                log.warning("replica heartbeat not written: %r", error)
            await asyncio.sleep(HEARTBEAT_S)

    async def silent_since(self, accepted_at: datetime) -> list[float]:
        """When each other replica silent since `accepted_at` was last seen (epoch seconds)."""
        since = accepted_at + timedelta(seconds=SILENCE_S)
        silent = await self._store.silent_replicas(self.instance, since, STALE_S)
        return [seen.timestamp() for seen in silent]

    async def stop(self) -> None:
        await self._store.replica_gone(self.instance)
