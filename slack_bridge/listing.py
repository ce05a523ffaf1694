"""The discovery pass's list of handed-off sessions, read as plain JSON.

The agent's open-handoff index (`GET /escalations/open`, agent/escalation_routes.py) answers
with the sessions in an open handoff and those closed in the last CLOSED_LOOKBACK, so a pass
costs what is open now, not every handoff ever made. The closed ones are still listed for a
while so discovery stops their mirrors, completes their handback line and refreshes their root
message, also after a bridge restart (a bridge down for longer than the lookback leaves the
root messages of sessions closed meanwhile as they were). An agent on a store that has no index
(Parlant's `local`, MongoDB) answers 404: the listing falls back to every session labelled
`handoff`.

The listing is kept current incrementally: it is read whole at the start and once every
resync interval (which also drops sessions gone from it: deleted, or closed longer ago than the
lookback), and every other pass asks only for the sessions written since the version it holds
(`changed_after`). Re-reading the whole 4 MB listing of 10,000 open escalations after any one
record changed (an operator's first reply claims the handoff) held the agent's store about
100 ms and the bridge's event loop in turns after it: the operator relay's p99 at 10,000.

The generated Parlant client converts every listed session through its annotation-aware
serializer; with a thousand escalations listed every two seconds that conversion alone kept a
third of a core busy (measured with py-spy). Discovery needs four fields, so it reads them
from the JSON directly.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff.operator_api import AsyncOperatorApi, RouteMissing
from handoff.record import HANDOFF_LABEL

CLOSED_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class ListedSession:
    id: str
    customer_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def listed_sessions(payload: Any) -> list[ListedSession]:
    """Parlant answers a list without `limit` as a JSON array, with it as {"items": [...]}."""
    items = payload.get("items", []) if isinstance(payload, dict) else payload
    return [
        ListedSession(
            id=str(item["id"]),
            customer_id=str(item.get("customer_id") or ""),
            metadata=item.get("metadata") or {},
            labels=tuple(item.get("labels") or ()),
        )
        for item in items or []
        if isinstance(item, dict) and item.get("id")
    ]


# The agent's own listing route wraps the array exactly so (agent/escalation_routes.py).
_VERSIONED_PREFIX = re.compile(r'\{"version":(\d+),"items":\[')
_SPACE = re.compile(r"[ \t\n\r]*")
# Sessions decoded between two turns of the event loop.
PARSE_BATCH = 500


class ListingUnreadable(ValueError):
    """The listing was cut short or is not the JSON it should be; the next pass asks again."""


@dataclass(frozen=True)
class ParsedListing:
    sessions: list[ListedSession]
    # The agent's change number the listing is current to; None from Parlant's own list.
    version: int | None = None


async def parse_listing(raw: bytes) -> ParsedListing:
    try:
        return await _parse_listing(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ListingUnreadable(str(error)) from error


async def _parse_listing(raw: bytes) -> ParsedListing:
    """`listed_sessions(json.loads(raw))`, a few hundred sessions at a time with the event loop
    served in between: one `json.loads` of 10,000 open escalations (4 MB) held the loop about
    300 ms, long enough for an operator reply to wait on it."""
    text = raw.decode()
    prefix = _VERSIONED_PREFIX.match(text)
    if prefix is None:
        # Parlant's own list (no index): small.
        return ParsedListing(listed_sessions(json.loads(text)))
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at = prefix.end()
    while True:
        at = _after_space(text, at)
        if text.startswith("]", at):
            break
        item, at = decoder.raw_decode(text, at)
        items.append(item)
        at = _after_space(text, at)
        if text.startswith(",", at):
            at += 1
        if len(items) % PARSE_BATCH == 0:
            await asyncio.sleep(0)
    if text[at:].strip() != "]}":
        raise ListingUnreadable(f"the open listing does not end as it should at character {at}")
    listed: list[ListedSession] = []
    for start in range(0, len(items), PARSE_BATCH):
        listed += listed_sessions(items[start : start + PARSE_BATCH])
        await asyncio.sleep(0)
    return ParsedListing(listed, int(prefix.group(1)))


def _after_space(text: str, at: int) -> int:
    space = _SPACE.match(text, at)
    return space.end() if space else at


def closed_since(now: datetime) -> str:
    """Pure: the `closed_since` parameter, in the handoff record's own time format."""
    return (now - CLOSED_LOOKBACK).astimezone(UTC).isoformat(timespec="seconds")


class OpenListing:
    """The sessions discovery works on, kept in step with the agent's listing: whole at the
    start and every `full_every_s`, otherwise only what changed since the version held. An
    agent on a store without the index (404) is listed whole every time, from Parlant's list."""

    def __init__(self, api: AsyncOperatorApi, full_every_s: float) -> None:
        self._api = api
        self._full_every_s = full_every_s
        self._full_due = 0.0
        self._version: int | None = None
        self._sessions: dict[str, ListedSession] = {}
        self._unindexed = b""

    @property
    def sessions(self) -> list[ListedSession]:
        return list(self._sessions.values())

    async def refresh(self) -> bool:
        """Bring the sessions up to the agent's listing; True if any of them changed."""
        now = time.monotonic()
        incremental = self._version is not None and now < self._full_due
        try:
            answer = await self._api.open_listing(
                closed_since(datetime.now(UTC)), self._version if incremental else None
            )
        except RouteMissing:
            return await self._refresh_unindexed()
        assert answer.body is not None  # no ETag was sent, so never a 304
        listing = await parse_listing(answer.body)
        if listing.version is None:
            raise ListingUnreadable("the open listing carries no version")
        if not incremental:
            self._sessions = {s.id: s for s in listing.sessions}
            self._full_due = now + self._full_every_s
        elif listing.version < (self._version or 0):
            # A store that counts from lower (another database behind the same URL): the
            # sessions held may be from elsewhere, so the next pass reads the listing whole.
            self._full_due = 0.0
            return False
        else:
            for session in listing.sessions:
                self._sessions[session.id] = session
        self._version = listing.version
        return not incremental or bool(listing.sessions)

    async def _refresh_unindexed(self) -> bool:
        raw = await self._api.labelled_sessions(HANDOFF_LABEL)
        self._version = None
        if raw == self._unindexed:
            return False
        listing = await parse_listing(raw)
        self._sessions = {s.id: s for s in listing.sessions}
        self._unindexed = raw
        return True
