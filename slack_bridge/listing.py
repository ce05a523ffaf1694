"""The discovery pass's list of handed-off sessions, read as plain JSON.

The agent's open-handoff index (`GET /escalations/open`, agent/escalation_routes.py) answers
with the sessions in an open handoff and those closed in the last CLOSED_LOOKBACK, so a pass
costs what is open now, not every handoff ever made. The closed ones are still listed for a
while so discovery stops their mirrors, completes their handback line and refreshes their root
message, also after a bridge restart (a bridge down for longer than the lookback leaves the
root messages of sessions closed meanwhile as they were). An agent on a store that has no index
(Parlant's `local`, MongoDB) answers 404: the listing falls back to every session labelled
`handoff`.

The generated Parlant client converts every listed session through its annotation-aware
serializer; with a thousand escalations listed every two seconds that conversion alone kept a
third of a core busy (measured with py-spy). Discovery needs four fields, so it reads them
from the JSON directly, and only when the listing's bytes changed since the last pass.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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
_ITEMS_PREFIX = '{"items":['
_SPACE = re.compile(r"[ \t\n\r]*")
# Sessions decoded between two turns of the event loop.
PARSE_BATCH = 500


class ListingUnreadable(ValueError):
    """The listing was cut short or is not the JSON it should be; the next pass asks again."""


async def parse_listing(raw: bytes) -> list[ListedSession]:
    try:
        return await _parse_listing(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ListingUnreadable(str(error)) from error


async def _parse_listing(raw: bytes) -> list[ListedSession]:
    """`listed_sessions(json.loads(raw))`, a few hundred sessions at a time with the event loop
    served in between: one `json.loads` of 10,000 open escalations (4 MB) held the loop about
    300 ms whenever any record changed, long enough for an operator reply to wait on it."""
    text = raw.decode()
    if not text.startswith(_ITEMS_PREFIX):
        return listed_sessions(json.loads(text))  # Parlant's own list (no index): small
    decoder = json.JSONDecoder()
    items: list[Any] = []
    at = len(_ITEMS_PREFIX)
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
    return listed


def _after_space(text: str, at: int) -> int:
    space = _SPACE.match(text, at)
    return space.end() if space else at


def closed_since(now: datetime) -> str:
    """Pure: the `closed_since` parameter, in the handoff record's own time format."""
    return (now - CLOSED_LOOKBACK).astimezone(UTC).isoformat(timespec="seconds")


class OpenListing:
    """The raw listing, asked for conditionally: the agent answers an unchanged listing with a
    304 (its ETag), so an idle pass costs no megabytes read. `parse_listing` reads what `fetch`
    returns; the same bytes object comes back while nothing changed."""

    def __init__(self, http: httpx.AsyncClient, parlant_url: str) -> None:
        self._http = http
        self._base = parlant_url.rstrip("/")
        self._etag: str | None = None
        self._body = b""

    async def fetch(self) -> bytes:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        response = await self._http.get(
            f"{self._base}/escalations/open",
            params={"closed_since": closed_since(datetime.now(UTC))},
            headers=headers,
        )
        if response.status_code == 304:
            return self._body
        if response.status_code == 404:
            # No `limit`: Parlant 3.3 filters labels after paging, so a page can come back short.
            response = await self._http.get(
                f"{self._base}/sessions", params={"labels": HANDOFF_LABEL}
            )
        response.raise_for_status()
        self._etag = response.headers.get("etag")
        self._body = response.content
        return self._body
