"""The bridge's durable state: what Parlant cannot hold about Slack.

Dedupe keys of Slack messages already taken in, the outbox of operator replies on their way to
Parlant, per-session mirror cursors, the escalation feed's cursor, mirrored posts (so a restart
never posts twice), the session ↔ thread links and the per-session leases of bridge replicas.

This module is the port: `BridgeStore`, the interface every backend implements, and the shapes
it speaks in. One module per backend beside it: `sqlite` (`SQLiteBridgeStore`, one local file,
WAL; the default, for one bridge) and `postgres` (`PostgresBridgeStore`, BRIDGE_STATE_URL,
shared by replicas). A new backend goes here, beside them.

The interface is async so an adapter on a network database (PostgreSQL) never blocks the event
loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import psycopg
from psycopg_pool import PoolTimeout

from slack_kit.pacing import Queue

# What a store raises while its database is out of reach for a moment (a dropped connection,
# a restarting server, a pool time-out): the bridge's loops log it and try again, as they do
# when Slack or Parlant is out of reach, instead of ending the process.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)

# An operator reply's kind, as handoff.actions names them.
# What an operator's reply is: MessageKind, or "draft": the agent's draft sent from its thread
# post (as the AI; keyed on the draft post's ts, so it is not "late" behind newer replies).
ReplyKind = Literal["human", "ai", "note", "draft"]
# held: an `ai:` reply the agent would not send in its name (agent/ai_reply_rules.py), waiting
# for its operator to send it anyway or edit it (`release_held`).
ReplyState = Literal["pending", "delivered", "rejected", "held"]


@dataclass(frozen=True)
class OutboxReply:
    id: int
    session_id: str
    channel: str
    ts: str
    thread_ts: str
    user_id: str
    user_name: str
    kind: ReplyKind
    text: str
    attempts: int
    pending_notified: bool
    # When the bridge took it in (its clock): the settling window counts from here.
    accepted_at: datetime
    # The rule the agent held it for, and (once its operator sent it anyway) the rule it goes
    # out despite; both empty for most replies.
    held_rule: str = ""
    override: str = ""


@dataclass(frozen=True)
class ThreadLink:
    session_id: str
    channel: str
    ts: str


class BridgeStore(Protocol):
    async def first_sighting(self, *keys: str) -> bool:
        """Record dedupe keys; True only if none of them was seen before (atomically)."""

    async def reply_queued(self, channel: str, ts: str) -> bool:
        """Whether the outbox holds the reply Slack posted at (channel, ts), in any state."""

    async def enqueue_reply(
        self,
        session_id: str,
        channel: str,
        ts: str,
        thread_ts: str,
        user_id: str,
        user_name: str,
        kind: ReplyKind,
        text: str,
    ) -> OutboxReply: ...

    async def pending_replies(self, session_id: str | None = None) -> list[OutboxReply]: ...

    async def reply_attempted(self, reply_id: int, error: str) -> None: ...

    async def reply_sending(self, reply_id: int) -> None:
        """Counted before Parlant is called: after a crash mid-call, the next attempt looks for
        the stored event instead of sending again."""

    async def reply_pending_notified(self, reply_id: int) -> None: ...

    async def delivered_after(self, session_id: str, ts: str) -> bool:
        """Whether a reply later in Slack's order than `ts` already reached this session."""

    async def reply_finished(
        self, reply_id: int, state: ReplyState, parlant_event_id: str = ""
    ) -> None: ...

    async def reply_held(self, reply_id: int, rule: str) -> None:
        """The agent held the reply for `rule`: it waits for its operator."""

    async def held_reply(self, reply_id: int) -> OutboxReply | None:
        """The reply if it is held now."""

    async def release_held(
        self, reply_id: int, *, send_anyway: bool = False, text: str | None = None
    ) -> OutboxReply | None:
        """A held reply back in the queue, once: sent despite its rule (`send_anyway`), or
        with the operator's edited `text` (checked again). None if it is not held (released
        already, by a second click or another replica)."""

    async def cursor(self, session_id: str) -> int | None: ...

    async def advance_cursor(self, session_id: str, next_offset: int) -> None: ...

    async def feed_cursor(self, replica_id: str) -> int | None:
        """The escalation feed position `replica_id` is done with; None before its first."""

    async def set_feed_cursor(self, replica_id: str, position: int) -> None:
        """Store it (any direction: after the agent's data was reset it moves back)."""

    async def mirror_status(self, session_id: str, event_id: str, part: int) -> str | None:
        """None: never attempted; "": attempted, outcome unknown; otherwise the posted ts."""

    async def mirror_attempting(self, session_id: str, event_id: str, part: int) -> None: ...

    async def mirror_posted(self, session_id: str, event_id: str, part: int, ts: str) -> None: ...

    async def link_thread(self, session_id: str, channel: str, ts: str) -> None: ...

    async def thread_for_session(self, session_id: str) -> ThreadLink | None: ...

    async def session_for_thread(self, channel: str, ts: str) -> ThreadLink | None: ...

    async def root_rendering(self, session_id: str) -> str | None: ...

    async def set_root_rendering(self, session_id: str, fingerprint: str) -> None: ...

    async def sla_notice_status(self, session_id: str, kind: str) -> str | None:
        """None: never attempted; "": attempted, outcome unknown; otherwise the posted ts."""

    async def sla_notice_attempting(self, session_id: str, kind: str) -> None: ...

    async def sla_notice_posted(self, session_id: str, kind: str, ts: str) -> None: ...

    async def post_slot(self, channel: str, interval: float, burst: int) -> float:
        """Takes `channel`'s next posting slot (slack_kit/pacing.py); returns the
        seconds to wait for it. Every replica on one store shares each channel's allowance."""

    async def defer_posts(self, channel: str, seconds: float, interval: float, burst: int) -> None:
        """Slack answered a post to `channel` with 429 and Retry-After `seconds`."""

    async def take_slot(
        self, key: str, interval: float, burst: int, queue: Queue | None = None
    ) -> float:
        """`key`'s next slot if it is free now (0); else the seconds until it is, nothing
        taken (slack_kit/pacing.py `take_if_free`). With `queue`, a free slot is left to
        another replica whose post has waited longer (slack_kit/pacing.py `Queue`)."""

    async def count_post(self, channel: str, ago: float, interval: float) -> None:
        """A post another process (the agent) made to `channel` `ago` seconds ago takes its
        slot in the channel's allowance."""

    async def outbox_summary(self) -> tuple[int, datetime | None]:
        """How many replies wait in the outbox, and when the oldest was accepted."""

    def outbox_turn(self, session_id: str) -> AbstractAsyncContextManager[bool]:
        """Held while this replica delivers the session's replies: True when it is this
        replica's turn (no other replica delivers that session's replies until the block ends),
        False when another replica is delivering them now."""

    async def acquire_leases(
        self, owner: str, session_ids: Sequence[str], ttl_s: float
    ) -> set[str]:
        """Take, for ttl_s, the leases that nobody holds, have expired or `owner` holds;
        returns the ids `owner` holds now."""

    async def renew_leases(self, owner: str, session_ids: Sequence[str], ttl_s: float) -> set[str]:
        """Extend `owner`'s leases by ttl_s; returns those still its own (the rest were lost)."""

    async def release_leases(self, owner: str, session_ids: Sequence[str]) -> None:
        """Give up `owner`'s leases, so another replica may take them at once."""

    async def replica_seen(self, instance: str, forget_after_s: float) -> None:
        """This replica process is alive now (its heartbeat, slack_bridge/replica_watch.py);
        replicas silent for longer than `forget_after_s` are forgotten."""

    async def replica_gone(self, instance: str) -> None:
        """This replica process stops cleanly: it swallows no Slack event from now on."""

    async def silent_replicas(
        self, instance: str, since: datetime, stale_s: float
    ) -> list[datetime]:
        """When each other replica process was last seen, for those seen neither since `since`
        (the database's clock, as an outbox reply's `accepted_at`) nor in the last `stale_s`."""


# The outbox's columns in `reply_from_row`'s order; both adapters name them alike.
REPLY_COLUMNS = (
    "id, session_id, channel, ts, thread_ts, user_id, user_name, kind, text, attempts,"
    " pending_notified, created_at, held_rule, override"
)


def reply_from_row(row: tuple[Any, ...]) -> OutboxReply:
    """An outbox row of REPLY_COLUMNS (SQLite stores the time as text, PostgreSQL as a time)."""
    accepted = row[11]
    return OutboxReply(
        id=int(row[0]),
        session_id=str(row[1]),
        channel=str(row[2]),
        ts=str(row[3]),
        thread_ts=str(row[4]),
        user_id=str(row[5]),
        user_name=str(row[6]),
        kind=row[7],
        text=str(row[8]),
        attempts=int(row[9]),
        pending_notified=bool(row[10]),
        accepted_at=accepted
        if isinstance(accepted, datetime)
        else datetime.fromisoformat(str(accepted)),
        held_rule=str(row[12]),
        override=str(row[13]),
    )
