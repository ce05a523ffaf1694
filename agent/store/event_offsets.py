"""One offset per event of a session, with several agent replicas writing the session.

Parlant numbers an event by reading the session's last offset and then inserting last + 1
(`SessionDocumentStore.create_event`), under a lock that only exists inside one process. Two
replicas writing one session at the same moment (a customer's message through one, an
operator's reply through the other) both read the same last offset and both stored it: the
bridge's mirror, whose cursor is an offset, then took the second event for one it had already
posted, and that message never reached Slack.

The store closes the race for every writer (customer, AI, operator, tools): an insert into a
collection `NumberedWithin` checks, holding a per-group lock until it commits, that its number
is still free in its group, and raises `OffsetTaken` otherwise. The session store then runs
Parlant's create_event again, which re-reads the last offset and takes the next one. Offsets
stay distinct and contiguous, and the event returned is the one stored.

A check rather than a unique index: databases written before this fix may already hold pairs
of events sharing an offset, which a unique index could not be built over.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parlant.core.sessions import Event, EventKind, EventSource, SessionId

from agent.session_listener import SignallingSessionDocumentStore
from agent.store.escalations import EVENTS

log = logging.getLogger(__name__)

# Each retry means another writer's event went in first, so a retry only repeats under a
# stream of writes into the same session; this bound only turns a bug into an error.
MAX_ATTEMPTS = 50


class OffsetTaken(Exception):
    """The number a document was inserted with is already taken in its group."""


@dataclass(frozen=True)
class NumberedWithin:
    """Documents of `collection` are numbered by their field `number`, counting within each
    value of their field `group`: no two documents of a group may share a number."""

    collection: str
    group: str
    number: str


EVENT_OFFSETS = NumberedWithin(collection=EVENTS, group="session_id", number="offset")


class OffsetSafeSessionStore(SignallingSessionDocumentStore):
    """Parlant's session store (with the change signals) on a database that refuses a taken
    offset (`NumberedWithin`): a refused event is written again with the next offset. With
    `before_customer_message`, that is awaited before a customer's message is stored (the
    turn it owes is leased first, agent/turn_lease.py)."""

    def __init__(
        self,
        *args: Any,
        before_customer_message: Callable[[str], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._before_customer_message = before_customer_message

    async def create_event(self, session_id: SessionId, *args: Any, **kwargs: Any) -> Event:
        source = args[0] if args else kwargs.get("source")
        kind = args[1] if len(args) > 1 else kwargs.get("kind")
        if (
            self._before_customer_message is not None
            and source == EventSource.CUSTOMER
            and kind == EventKind.MESSAGE
        ):
            await self._before_customer_message(session_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await super().create_event(session_id, *args, **kwargs)
            except OffsetTaken as taken:
                # Another replica wrote into the session since Parlant read its last offset.
                log.debug(
                    "event offset taken session=%s attempt=%d: %s", session_id, attempt, taken
                )
        raise RuntimeError(f"no free event offset in session {session_id} after {MAX_ATTEMPTS}")
