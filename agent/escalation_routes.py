"""Operator-only HTTP routes over the open-handoff index and the escalation feed.

- `GET /escalations/open[?closed_since=ISO][&changed_after=N]`: sessions in an open handoff
  (and, with `closed_since`, those whose handoff was returned or resolved since then), as
  Parlant lists sessions: work proportional to open escalations, whatever the history holds.
  `{"version": V, "items": [...]}`: with `changed_after=V` only the sessions written since that
  answer (agent/store/escalations.py), so a poller's cost follows changes, not open work. With
  an ETag, so a poller holding the current answer gets a 304 (`If-None-Match`).
- `GET /escalations/history[?before_closed_at=&before_id=&limit=]`: closed handoffs, most
  recently closed first, a page at a time.
- `GET /escalations/feed?after=<cursor>&limit=&wait_for_data=<s>`: the events of every session
  in an open handoff after the cursor, in the store's global feed order, and the next cursor.
  Long-polled: an empty answer waits until the store reports a write (agent/session_listener.py;
  other replicas' writes arrive by LISTEN/NOTIFY, agent/store/change_feed.py), never by reading
  the store in a loop.

With the operator token set, agent/authorization.py refuses these paths to anyone else before
anything here runs (customers included); each route checks again, so the rule does not depend
on the middleware's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.authorization import OperatorCheck
from agent.session_listener import SessionChanges
from agent.store.escalations import CLOSED_AT, EscalationIndex, FeedPage
from handoff.operator_api import (
    FEED_PAGE,
    FEED_PATH,
    HISTORY_PAGE,
    HISTORY_PATH,
    MAX_PAGE,
    MAX_WAIT_S,
    OPEN_PATH,
    BadParameter,
    whole_parameter,
)

log = logging.getLogger(__name__)


def listing_etag(body: bytes) -> str:
    """A strong validator of the listing's bytes (RFC 9110 8.8.3)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _whole(request: Request, name: str, default: int, low: int, high: int) -> int:
    return whole_parameter(request.query_params.get(name), name, default, low, high)


class EscalationRoutes:
    def __init__(
        self,
        escalations: EscalationIndex,
        changes: SessionChanges,
        operator_token: str | None,
    ) -> None:
        self._escalations = escalations
        self._changes = changes
        self._is_operator = OperatorCheck(operator_token)

    async def feed(self, after: int, limit: int, wait_s: float) -> FeedPage:
        """Events after `after`; waits up to `wait_s` for some when there are none yet."""
        deadline = time.monotonic() + wait_s
        woken = self._changes.subscribe_any()
        try:
            while True:
                # Cleared before reading, so a write during the read still wakes the wait.
                woken.clear()
                page = await self._escalations.events_after(after, limit)
                after = page.next
                if page.events or after < page.head:
                    # Events, or more positions to walk past: the caller asks again at once.
                    return page
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return page
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), remaining)
        finally:
            self._changes.unsubscribe_any(woken)

    def install(self, app: FastAPI) -> None:
        def refused() -> Response:
            return JSONResponse({"detail": "this needs the operator token"}, status_code=403)

        @app.get(OPEN_PATH, include_in_schema=False)
        async def open_escalations(request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            closed_since = request.query_params.get("closed_since") or None
            try:
                changed_after = (
                    _whole(request, "changed_after", 0, 0, 2**62)
                    if request.query_params.get("changed_after")
                    else None
                )
            except BadParameter as error:
                return JSONResponse({"detail": str(error)}, status_code=422)
            listing = (
                await self._escalations.open_listing(closed_since)
                if changed_after is None
                else await self._escalations.changed_listing(changed_after, closed_since)
            )
            # The version first: a reader of 10,000 sessions finds it before the items.
            body = f'{{"version":{listing.version},"items":{listing.items}}}'.encode()
            etag = listing_etag(body)
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            # Already JSON, built by the database: wrapped, not parsed and written again.
            return Response(body, media_type="application/json", headers={"ETag": etag})

        @app.get(HISTORY_PATH, include_in_schema=False)
        async def history(request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            try:
                limit = _whole(request, "limit", HISTORY_PAGE, 1, MAX_PAGE)
            except BadParameter as error:
                return JSONResponse({"detail": str(error)}, status_code=422)
            closed_at = request.query_params.get("before_closed_at")
            session_id = request.query_params.get("before_id")
            before = (closed_at, session_id) if closed_at and session_id else None
            items = await self._escalations.closed_sessions(before, limit)
            body: dict[str, Any] = {"items": items, "next": None}
            if len(items) == limit:
                last = items[-1]
                record = last["metadata"].get("handoff") or {}
                closed = record.get(CLOSED_AT.get(str(record.get("status")), ""))
                body["next"] = {"before_closed_at": closed, "before_id": last["id"]}
            return JSONResponse(body)

        @app.get(FEED_PATH, include_in_schema=False)
        async def feed(request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            try:
                after = _whole(request, "after", 0, 0, 2**62)
                limit = _whole(request, "limit", FEED_PAGE, 1, MAX_PAGE)
                wait_s = _whole(request, "wait_for_data", 0, 0, MAX_WAIT_S)
            except BadParameter as error:
                return JSONResponse({"detail": str(error)}, status_code=422)
            page = await self.feed(after, limit, wait_s)
            log.debug(
                "escalation feed after=%d events=%d next=%d", after, len(page.events), page.next
            )
            return JSONResponse({"events": list(page.events), "next": page.next, "head": page.head})
