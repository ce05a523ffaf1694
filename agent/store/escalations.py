"""What the open-handoff index and the escalation feed answer, whichever store holds them.

The index is the handoff record itself (session metadata `handoff.status`, handoff/record.py),
indexed by the store with partial expression indexes: only sessions in an open handoff are in
the "open" index, only closed ones (returned, resolved) in the "closed" one, keyed by when they
closed. Every writer of the record (the handoff tool, return to AI and resolve from Slack or the
dashboard, a take-over) is therefore in step with it by construction: there is no second thing
to keep right, and no writer can forget it. (A `handoff-open` label would not have made listing
cheaper anyway: Parlant 3.3 filters labels in Python after reading every session.)

Every insert and update of a session document takes the next number of a change counter (a
trigger each store installs with its indexes, so no writer can forget it either), kept beside
the feed's counters. A listing says which number it is current to (`Listing.version`): a
poller holding version V asks for the sessions changed after V and gets only those, so a
claim in one escalation of 10,000 costs one session read, not the whole 4 MB listing again.

The feed is Parlant's `events` collection in its global, gap-free feed order (each store's
`ordered` collection): a reader that has seen position N never later finds an event at N or
below, so one cursor is enough.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from handoff.record import ACTIVE_STATUSES

SESSIONS = "sessions"
EVENTS = "events"
# The change counter's row among the feed counters (no collection is named so).
SESSION_CHANGES = "sessions:changes"

OPEN_STATUSES: tuple[str, ...] = tuple(sorted(ACTIVE_STATUSES))
# Closed statuses, each with the record field saying when it closed.
CLOSED_AT: Mapping[str, str] = {"returned": "returned_at", "resolved": "resolved_at"}

# How many positions one feed read may walk past at most: a reader far behind (or a busy store
# of AI-only conversations) costs a bounded scan per request, and catches up over several.
SCAN_WINDOW = 5000

# Stored session fields that are not in Parlant's API shape (its SessionDTO): the schema version
# and the AI's per-turn states, which grow with the conversation. A session view is the stored
# document without them, so a database can build it in one pass (SQLite json_remove, jsonb -).
INTERNAL_SESSION_FIELDS = ("version", "agent_states")
_EVENT_FIELDS = ("id", "session_id", "offset", "kind", "source", "creation_utc", "trace_id")


def session_view(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored session as Parlant's API lists it, so its clients read it unchanged."""
    return {k: v for k, v in document.items() if k not in INTERNAL_SESSION_FIELDS}


def feed_event(position: int, document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as one feed entry."""
    entry: dict[str, Any] = {"position": position}
    entry.update({field: document.get(field) for field in _EVENT_FIELDS})
    entry["data"] = document.get("data")
    entry["metadata"] = document.get("metadata") or {}
    entry["deleted"] = bool(document.get("deleted", False))
    return entry


def decode(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@dataclass(frozen=True)
class Listing:
    """Session views as a JSON array built by the database, and the last change number
    included: the sessions changed after it are what the next incremental listing returns."""

    items: str
    version: int


@dataclass(frozen=True)
class FeedPage:
    """Events after a cursor, and the cursor to ask from next. `head` is the last position given
    out when read: `next` below it means there is more to read at once."""

    events: Sequence[dict[str, Any]]
    next: int
    head: int


def next_cursor(after: int, upper: int, positions: Sequence[int], limit: int) -> int:
    """Pure: where the next read starts. A full page stops at its last event; otherwise every
    position up to `upper` was read (those not shown belong to sessions not in an open handoff)."""
    if positions and len(positions) >= limit:
        return positions[-1]
    return max(after, upper)


class EscalationIndex(Protocol):
    """One store's answers; see SQLiteEscalations and PostgresEscalations."""

    async def ensure_indexes(self) -> None: ...

    async def open_listing(self, closed_since: str | None) -> Listing:
        """Sessions in an open handoff, and those whose handoff closed at or after
        `closed_since` (ISO time), in insertion order, as a JSON array of session views built
        by the database: listing 10,000 open handoffs never parses or writes them in Python."""
        ...

    async def changed_listing(self, after: int, closed_since: str | None) -> Listing:
        """The sessions of `open_listing` whose document changed after change number `after`,
        in change order: the cost is what changed, however many are open."""
        ...

    async def open_sessions(self, closed_since: str | None) -> list[dict[str, Any]]:
        """The same, decoded."""
        ...

    async def closed_sessions(
        self, before: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """History: closed handoffs, most recently closed first, strictly before the
        (closed_at, session id) cursor."""
        ...

    async def events_after(self, after: int, limit: int) -> FeedPage:
        """Events of sessions in an open handoff with a position above `after`."""
        ...

    async def operator_reply(
        self, session_id: str, source: str, channel: str, ts: str
    ) -> str | None:
        """The id of the session's message from `source` (not deleted) whose metadata says it
        came from Slack message (`channel`, `ts`): where a reply POSTed again finds the event
        stored for it (agent/reply_keys.py). Through the session's index and the database's
        JSON functions: read through Parlant's store, every reply decoded each earlier message
        of the conversation (3 ms a reply at a few hundred)."""
        ...

    async def head(self) -> int: ...
