"""The agent's operations endpoints: /metrics (Prometheus text format) and /readyz.

Parlant itself answers /healthz (the process is alive). Who may read these: escalation counts
and dependency errors are operator data, so with PARLANT_OPERATOR_TOKEN set both need
`Authorization: Bearer <token>`; /readyz then tells anyone else only 200 or 503. Without a
token (development, bound to 127.0.0.1) they are open, as the rest of Parlant's API is.

- Escalation gauges are computed when scraped (cached briefly) from the store's open-handoff
  index (agent/store/escalations.py), or, on a store without one, from every session labelled
  `handoff`.
- Failed AI turns: counted as they happen (agent/ai_failure.py), since this process started.
- Long polls: an ASGI middleware counts `GET /sessions/{id}/events?wait_for_data=N` requests
  in flight, whichever session listener serves them.
- /readyz: the session store, the claims store and, with Slack configured, Slack's auth.test
  (remembered for 30 s), probed once a second beside the endpoint, which answers from the last
  probe (agent/readiness.py): a load balancer's check never waits on a busy store. The session
  store's probe is a one-row read of the store's own index where there is one, not a Parlant
  listing (which counts every session and queues behind the store's writers).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from lagom import Container
from parlant.core.sessions import SessionStore
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import Counter as PromCounter
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.authorization import OperatorCheck
from agent.readiness import Check, ReadinessProbe
from agent.store.escalations import EscalationIndex
from handoff.record import ACTIVE_STATUSES, HANDOFF_LABEL, read_record
from handoff.sla import SlaSettings, sla_view

SNAPSHOT_TTL_S = 10.0
CHECK_TIMEOUT_S = 5.0
# How often /readyz's dependencies are probed (agent/readiness.py).
PROBE_INTERVAL_S = 1.0
CLOCKS = ("claim", "first_reply")
# Parlant's event long polls (customers' chat pages) and the bridge's escalation feed.
EVENTS_PATH = re.compile(r"^/(sessions/[^/]+/events|escalations/feed)$")


@dataclass(frozen=True)
class EscalationSnapshot:
    """Open handoffs per (status, channel) and open handoffs per breached clock."""

    open: Mapping[tuple[str, str], int]
    breached: Mapping[str, int]


def escalation_snapshot(
    metadatas: Iterable[Mapping[str, Any] | None], sla: SlaSettings, now: datetime
) -> EscalationSnapshot:
    """Pure: the gauges' values from the sessions' metadata."""
    open_: Counter[tuple[str, str]] = Counter()
    breached: Counter[str] = Counter(dict.fromkeys(CLOCKS, 0))
    for metadata in metadatas:
        record = read_record(metadata)
        if record is None or record.get("status") not in ACTIVE_STATUSES:
            continue
        slack = record.get("slack") or {}
        channel = str(slack.get("channel") or "none")
        open_[(str(record.get("status")), channel)] += 1
        view = sla_view(record, sla, now)
        if view is not None:
            for clock in (view.claim, view.first_reply):
                if clock.breached:
                    breached[clock.name] += 1
    return EscalationSnapshot(dict(open_), dict(breached))


class LongPollGauge:
    """ASGI middleware: long polls on session events in flight."""

    def __init__(self, app: ASGIApp, gauge: Gauge) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and _is_long_poll(scope)):
            await self.app(scope, receive, send)
            return
        self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.dec()


def _is_long_poll(scope: Scope) -> bool:
    if scope.get("method") != "GET" or not EVENTS_PATH.match(scope.get("path", "")):
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    wait = (query.get("wait_for_data") or ["0"])[0]
    try:
        return float(wait) > 0
    except ValueError:
        return False


class AgentOps:
    """The registry, the checks and the routes; `bind` once the Parlant container exists."""

    def __init__(
        self,
        operator_token: str | None,
        sla: SlaSettings,
        claims_ping: Callable[[], None],
        slack_auth: Check | None = None,
    ) -> None:
        self.is_operator = OperatorCheck(operator_token)
        self._sla = sla
        self._claims_ping = claims_ping
        self._slack_auth = slack_auth
        self._container: Container | None = None
        self._snapshot: tuple[float, EscalationSnapshot] | None = None
        self._escalations: EscalationIndex | None = None
        self._probe = ReadinessProbe(self.checks, PROBE_INTERVAL_S, CHECK_TIMEOUT_S)
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.open_escalations = Gauge(
            "escalations_open",
            "Open handoffs (waiting for or claimed by a person) by status and Slack channel.",
            ["status", "channel"],
            registry=self.registry,
        )
        self.sla_breached = Gauge(
            "escalations_sla_breached",
            "Open handoffs whose SLA clock (claim, first_reply) is past its target.",
            ["clock"],
            registry=self.registry,
        )
        self.ai_turns_failed = PromCounter(
            "ai_turns_failed",
            "AI turns that ended in an error, the turn's deadline or model calls, or with no "
            "reply (agent/ai_failure.py), by cause and whether the session went to a person.",
            ["cause", "handed_off"],
            registry=self.registry,
        )
        self.ai_replies_held = PromCounter(
            "ai_replies_held",
            "Operator replies in the agent's name (`ai:`, a draft's Edit and send) the agent "
            "did not send, by the rule of agent/ai_reply_rules.py they broke.",
            ["rule"],
            registry=self.registry,
        )
        self.long_polls = Gauge(
            "parlant_long_polls_open",
            "Event long polls (wait_for_data) the agent is holding open.",
            registry=self.registry,
        )

    def bind(self, container: Container) -> None:
        self._container = container

    def use_index(self, escalations: EscalationIndex) -> None:
        """Read open handoffs from the store's index: cost follows open work, not history."""
        self._escalations = escalations

    async def snapshot(self) -> EscalationSnapshot:
        now = time.monotonic()
        if self._snapshot is not None and now - self._snapshot[0] < SNAPSHOT_TTL_S:
            return self._snapshot[1]
        if self._escalations is not None:
            opened = await self._escalations.open_sessions(None)
            metadatas: list[Mapping[str, Any] | None] = [s["metadata"] for s in opened]
        else:
            listing = await self._sessions().list_sessions(labels={HANDOFF_LABEL})
            metadatas = [session.metadata for session in listing.items]
        snapshot = escalation_snapshot(metadatas, self._sla, datetime.now(UTC))
        self._snapshot = (now, snapshot)
        return snapshot

    async def render_metrics(self) -> bytes:
        snapshot = await self.snapshot()
        self.open_escalations.clear()
        for (status, channel), count in snapshot.open.items():
            self.open_escalations.labels(status=status, channel=channel).set(count)
        for clock, count in snapshot.breached.items():
            self.sla_breached.labels(clock=clock).set(count)
        return generate_latest(self.registry)

    def _sessions(self) -> SessionStore:
        if self._container is None:
            raise RuntimeError("the server is still starting")
        return self._container[SessionStore]  # type: ignore[type-abstract]

    def checks(self) -> dict[str, Check]:
        async def session_store() -> str | None:
            if self._escalations is not None:
                await self._escalations.head()  # one row of the store's own
            else:
                await self._sessions().list_sessions(limit=1)
            return None

        async def claims_store() -> str | None:
            await asyncio.to_thread(self._claims_ping)
            return None

        checks: dict[str, Check] = {"session_store": session_store, "claims_store": claims_store}
        if self._slack_auth is not None:
            checks["slack"] = self._slack_auth
        return checks

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """The last probe's answer (see the module's doc)."""
        return await self._probe.current()

    async def close(self) -> None:
        await self._probe.close()

    async def install(self, app: FastAPI) -> None:
        """A `configure_api` step: the routes and the long-poll middleware."""
        app.add_middleware(LongPollGauge, gauge=self.long_polls)

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            if not self.is_operator(request):
                return JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            return Response(await self.render_metrics(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/readyz", include_in_schema=False)
        async def readyz(request: Request) -> Response:
            ready, results = await self.readiness()
            body: dict[str, Any] = {"ready": ready}
            if self.is_operator(request):
                body["checks"] = results  # error texts name hosts and paths: operators only
            return JSONResponse(body, status_code=200 if ready else 503)


class SlackAuth:
    """The agent's Slack check: auth.test with the bot token, remembered for 30 s."""

    def __init__(self, bot_token: str, api_url: str) -> None:
        self._bot_token = bot_token
        self._api_url = api_url
        self._check: Check | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self) -> str | None:
        if self._check is None:
            from slack_kit.slack_api import SlackCaller, client_session, web_client
            from slack_kit.slack_auth import SlackAuthCheck

            self._session = client_session(max_connections=2)
            client = web_client(self._bot_token, self._api_url, self._session)
            self._check = SlackAuthCheck(SlackCaller(client))
        return await self._check()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
