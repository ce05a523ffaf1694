"""Reads from Parlant, the source of truth; the only dashboard module doing I/O besides the actions.

Reads use one cached sync OperatorClient per process (Parlant's client with the agent's
operator routes beside it, handoff/operator_api.py). Actions get a fresh AsyncOperatorClient per
`asyncio.run` (see `async_client`): a cached async client breaks once its event loop is closed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pydantic
import streamlit as st
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.types import Event, Session

from dashboard.copilot import DraftStep, Hold, draft_steps, holds
from dashboard.customer_labels import is_guest
from dashboard.failed_turns import FailedTurnRow, failed_turn_rows
from dashboard.model import Escalation, RawEvent
from dashboard.settings import DashboardSettings
from dashboard.token_usage import BilledUsage, billed_usage_row
from dashboard.transcript import transcript_matches
from handoff.copilot_events import COPILOT_LABEL
from handoff.failed_turn import FAILED_TURN_LABEL
from handoff.learned import LearnedEntry, read_entries
from handoff.operator_api import (
    MAX_PAGE,
    AsyncOperatorClient,
    HistoryCursor,
    OperatorClient,
    RouteMissing,
)
from handoff.record import ACTIVE_STATUSES, HANDOFF_LABEL, HandoffRecord, read_record

log = logging.getLogger(__name__)

QUEUE_TTL_S = 3
SEARCH_TTL_S = 30
HTTP_TIMEOUT_S = 30.0
SEARCH_WORKERS = 8
CLOSED = frozenset({"returned", "resolved"})
# Half the agent's largest history page: a page is one response held in memory.
HISTORY_PAGE = MAX_PAGE // 2
# Status events (typing, processing, ready) are noise to a supervisor and the bulk of a session.
TRANSCRIPT_KINDS = "message,tool,custom"


def _headers(settings: DashboardSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}


@st.cache_resource(show_spinner=False)
def _http(settings: DashboardSettings) -> httpx.Client:
    return httpx.Client(
        base_url=settings.parlant_url,
        headers=_headers(settings),
        timeout=HTTP_TIMEOUT_S,
        limits=httpx.Limits(max_connections=SEARCH_WORKERS * 2),
    )


def agent_http(settings: DashboardSettings) -> httpx.Client:
    """The process's HTTP client to the agent, with the operator token (the agent's own
    /escalations/ routes, e.g. dashboard/canned.py)."""
    return _http(settings)


@st.cache_resource(show_spinner=False)
def client(settings: DashboardSettings) -> OperatorClient:
    return OperatorClient(
        base_url=settings.parlant_url, timeout=HTTP_TIMEOUT_S, httpx_client=_http(settings)
    )


@asynccontextmanager
async def async_client(settings: DashboardSettings) -> AsyncIterator[AsyncOperatorClient]:
    async with httpx.AsyncClient(headers=_headers(settings), timeout=HTTP_TIMEOUT_S) as http:
        yield AsyncOperatorClient(
            base_url=settings.parlant_url, timeout=HTTP_TIMEOUT_S, httpx_client=http
        )


def _escalation(session: Session) -> Escalation:
    return Escalation(
        session_id=session.id,
        customer_id=session.customer_id,
        mode=str(session.mode),
        created=session.creation_utc,
        record=read_record(session.metadata) or HandoffRecord(),
    )


_SESSION_LIST = pydantic.TypeAdapter(list[Session])


def _sessions(raw: bytes) -> list[Escalation]:
    """Sessions as Parlant lists them (a JSON array) or the agent's listings do (`items`)."""
    payload = json.loads(raw)
    items = payload.get("items", []) if isinstance(payload, dict) else payload
    return [_escalation(s) for s in _SESSION_LIST.validate_python(items)]


@st.cache_data(ttl=QUEUE_TTL_S, show_spinner=False, max_entries=4)
def escalations(settings: DashboardSettings) -> list[Escalation]:
    """The sessions in an open handoff (waiting, claimed), from the agent's open-handoff index
    (`GET /escalations/open`): the queue's cost follows open work, not history. Cached briefly:
    all tabs and refreshes share one read. An agent whose store has no index answers 404; then
    every handed-off session is read and the open ones kept."""
    try:
        listing = client(settings).operator.open_listing()
    except RouteMissing:
        return [e for e in every_escalation(settings) if e.record.get("status") in ACTIVE_STATUSES]
    assert listing.body is not None  # no ETag was sent, so never a 304
    return _sessions(listing.body)


@st.cache_data(ttl=QUEUE_TTL_S, show_spinner=False, max_entries=4)
def slack_backlog(settings: DashboardSettings) -> dict[str, tuple[int, float]]:
    """Per Slack channel that is behind (SLACK_BEHIND_AFTER_SECONDS): customer messages
    waiting to be posted there and the oldest wait in seconds, as the bridges last reported
    (`GET /escalations/slack-backlog`); empty when none is, or the agent is older than the
    route."""
    try:
        channels = client(settings).operator.slack_backlog()
    except RouteMissing:
        return {}
    return {
        channel: (int(figures["waiting"]), float(figures["oldest_wait_seconds"]))
        for channel, figures in channels.items()
        if figures.get("behind")
    }


@st.cache_data(ttl=QUEUE_TTL_S, show_spinner=False, max_entries=8)
def closed_escalations(settings: DashboardSettings, limit: int) -> list[Escalation]:
    """The `limit` most recently closed handoffs (returned, resolved), read on demand."""
    found: list[Escalation] = []
    before: HistoryCursor | None = None
    while len(found) < limit:
        try:
            page = client(settings).operator.history(min(HISTORY_PAGE, limit - len(found)), before)
        except RouteMissing:
            closed = [e for e in every_escalation(settings) if e.record.get("status") in CLOSED]
            return closed[:limit]
        found += [_escalation(s) for s in _SESSION_LIST.validate_python(page.items)]
        if page.next is None:
            break
        before = page.next
    return found


@st.cache_data(ttl=QUEUE_TTL_S, show_spinner=False, max_entries=4)
def every_escalation(settings: DashboardSettings) -> list[Escalation]:
    """Every session labelled `handoff`, open or closed: the insights page's history.

    Unpaginated on purpose: Parlant 3.3 applies the label filter after cutting the page and then
    reports has_more=False (SessionDocumentStore.list_sessions), so a paged label query silently
    drops every escalation past the first page of *all* sessions.
    The GET goes through the client's own HTTP connection but skips parlant-client's generic
    response conversion, which walks every metadata dict in Python: 1.5 s for 5,000 sessions
    against 0.13 s for validating the same JSON into the client's `Session` model directly.
    """
    return _sessions(client(settings).operator.labelled_sessions(HANDOFF_LABEL))


# A customer's name comes from their sign-in token and seldom changes: read once in a while.
CUSTOMER_NAME_TTL_S = 600
_names: dict[str, tuple[float, str | None]] = {}
_names_lock = threading.Lock()


def _customer_name(http: httpx.Client, customer_id: str) -> tuple[str, str | None] | None:
    """(id, name or None when Parlant has no such customer), or None when it could not be read
    (not remembered: asked again at the next refresh)."""
    try:
        response = http.get(f"/customers/{quote(customer_id, safe='')}")
    except httpx.HTTPError:
        return None
    if response.status_code == 404:
        return customer_id, None
    if response.status_code != 200:
        return None
    body = response.json()
    name = body.get("name") if isinstance(body, dict) else None
    return customer_id, str(name) if name else None


def customer_names(settings: DashboardSettings, customer_ids: Iterable[str]) -> dict[str, str]:
    """The names of these customers (guests have none to read), one GET per customer not read
    in the last CUSTOMER_NAME_TTL_S, in parallel; a name that cannot be read is left out."""
    now = time.monotonic()
    wanted = {c for c in customer_ids if not is_guest(c)}
    with _names_lock:
        stale = [c for c in wanted if c not in _names or now - _names[c][0] > CUSTOMER_NAME_TTL_S]
    if stale:
        http = _http(settings)  # resolved here: Streamlit's caches are not for worker threads
        with ThreadPoolExecutor(max_workers=SEARCH_WORKERS) as pool:
            found = [r for r in pool.map(lambda c: _customer_name(http, c), stale) if r]
        with _names_lock:
            _names.update((c, (now, name)) for c, name in found)
    with _names_lock:
        return {c: name for c in wanted if c in _names and (name := _names[c][1])}


def session(settings: DashboardSettings, session_id: str) -> Escalation | None:
    """The session and its handoff record, or None if Parlant does not know the id."""
    try:
        return _escalation(client(settings).sessions.retrieve(session_id))
    except ApiError as error:
        if error.status_code in (404, 422):
            log.info("session lookup session=%s not found (%s)", session_id, error.status_code)
            return None
        raise


def _raw(event: Event) -> RawEvent:
    return RawEvent(
        offset=event.offset,
        source=str(event.source),
        kind=str(event.kind),
        created=event.creation_utc,
        data=event.data,
        metadata=dict(event.metadata or {}),
    )


def events_since(settings: DashboardSettings, session_id: str, min_offset: int) -> list[RawEvent]:
    """The session's transcript events from `min_offset` on, without waiting for new ones."""
    events = client(settings).sessions.list_events(
        session_id, min_offset=min_offset, kinds=TRANSCRIPT_KINDS, wait_for_data=0
    )
    return [_raw(e) for e in events if not e.deleted]


def _transcript_text(api: ParlantClient, session_id: str) -> str:
    events = api.sessions.list_events(session_id, kinds="message,custom", wait_for_data=0)
    parts = []
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        parts.append(str(data.get("message") or data.get("text") or ""))
    return "\n".join(parts)


# Keyed by the whole id set: a new query over the same filtered queue reuses the fetched texts.
@st.cache_data(ttl=SEARCH_TTL_S, show_spinner=False, max_entries=8)
def _transcript_texts(settings: DashboardSettings, session_ids: tuple[str, ...]) -> dict[str, str]:
    api = client(settings)  # resolved here: Streamlit's caches are not for worker threads
    with ThreadPoolExecutor(max_workers=SEARCH_WORKERS) as pool:
        texts = pool.map(lambda sid: _transcript_text(api, sid), session_ids)
        return dict(zip(session_ids, texts, strict=True))


def search_transcripts(
    settings: DashboardSettings, session_ids: Iterable[str], query: str
) -> frozenset[str]:
    """The sessions among `session_ids` whose messages or notes contain every word of `query`."""
    texts = _transcript_texts(settings, tuple(session_ids))
    return frozenset(sid for sid, text in texts.items() if transcript_matches(text, query))


USAGE_TTL_S = 60
USAGE_DAYS = 30


@st.cache_data(ttl=USAGE_TTL_S, show_spinner=False, max_entries=2)
def billed_usage(settings: DashboardSettings) -> list[BilledUsage]:
    """What the model endpoint billed per day, model and kind over the last 30 days, from the
    agent's usage book (`GET /escalations/llm-usage`): every request it answered, start-up,
    retries, turns without a reply and embeddings included."""
    since = (datetime.now(UTC).date() - timedelta(days=USAGE_DAYS)).isoformat()
    return [billed_usage_row(item) for item in client(settings).operator.llm_usage(since)]


FAILED_TURNS_TTL_S = 10


def _failed_turns_of(api: ParlantClient, escalation: Escalation) -> list[FailedTurnRow]:
    events = api.sessions.list_events(escalation.session_id, kinds="custom", wait_for_data=0)
    return failed_turn_rows(
        escalation.session_id,
        escalation.customer_id,
        (_raw(e) for e in events if not e.deleted),
    )


@st.cache_data(ttl=FAILED_TURNS_TTL_S, show_spinner=False, max_entries=2)
def failed_turns(settings: DashboardSettings) -> list[FailedTurnRow]:
    """Every failed AI turn: the sessions the agent labelled `ai_failure`, then each one's
    custom events (in parallel), so the cost follows the sessions with a failure."""
    failed = _sessions(client(settings).operator.labelled_sessions(FAILED_TURN_LABEL))
    api = client(settings)
    with ThreadPoolExecutor(max_workers=SEARCH_WORKERS) as pool:
        return [
            row for rows in pool.map(lambda e: _failed_turns_of(api, e), failed) for row in rows
        ]


COPILOT_TTL_S = 30


def _copilot_of(api: ParlantClient, session_id: str) -> tuple[list[DraftStep], list[Hold]]:
    events = [
        _raw(e)
        for e in api.sessions.list_events(session_id, kinds="message,custom", wait_for_data=0)
        if not e.deleted
    ]
    return draft_steps(session_id, events), holds(session_id, events)


@st.cache_data(ttl=COPILOT_TTL_S, show_spinner=False, max_entries=2)
def copilot(settings: DashboardSettings) -> tuple[list[DraftStep], list[Hold]]:
    """Every draft offered or decided and every `ai:` reply held: the sessions labelled
    `copilot` (handoff/copilot_events.py), then each one's messages and custom events (in
    parallel), so the cost follows the sessions with a draft or a hold."""
    labelled = _sessions(client(settings).operator.labelled_sessions(COPILOT_LABEL))
    api = client(settings)
    steps: list[DraftStep] = []
    held: list[Hold] = []
    with ThreadPoolExecutor(max_workers=SEARCH_WORKERS) as pool:
        for found_steps, found_holds in pool.map(
            lambda e: _copilot_of(api, e.session_id), labelled
        ):
            steps.extend(found_steps)
            held.extend(found_holds)
    return steps, held


LEARNED_TTL_S = 3


@st.cache_data(ttl=LEARNED_TTL_S, show_spinner=False, max_entries=2)
def learned_entries(settings: DashboardSettings) -> list[LearnedEntry]:
    """The learned file's proposals and accepted and rejected entries, from the agent
    (`GET /escalations/learning`, agent/learning_route.py); none from an agent older than it."""
    response = _http(settings).get("/escalations/learning")
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return read_entries(response.json())


def post(settings: DashboardSettings, path: str, body: Any) -> httpx.Response:
    """An operator call to the agent's own routes (the learning loop's proposals and decisions)."""
    return _http(settings).post(path, json=body)
