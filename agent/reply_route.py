"""`POST /escalations/{session_id}/replies`: an operator's message to the customer, one request.

Through Parlant's public API a reply takes two round trips: read the handoff record (a reply to
a returned or resolved handoff is refused; the first reply claims a waiting handoff and records
when it came), then create the event. Measured at 10,000 open escalations, the second round trip
alone put the relay's p99 over its target (1.2 times direct `create_event`, plus 5 ms): the relay cost
the bridge's own work plus two agent round trips. Here the agent does both steps in-process, in
the order and with the record transition handoff/actions.py uses (`after_human_reply`), one
session at a time per agent process.

Body: `{"as": "human" | "ai", "message": str, "operator": {"id", "name", "origin"},
"metadata": {...}, "override": rule}`. Answers 201 with the event as Parlant's `create_event`
does, 409 `{"detail", "status"}` when the handoff is not with a human, 404 for an unknown
session, 422 for a malformed body, and 422 `{"detail", "held": {"rule", "why"}}` for an `ai`
reply that breaks a rule of agent/ai_reply_rules.py (sent only with `override` naming that
rule). A held reply is recorded in its session (an `ai_reply_held` event with the rule, the
operator and the reply's origin, never its text: handoff/copilot_events.py) for the insights
page, and counted (`ai_replies_held_total`). Operators only, as every /escalations/ path
(agent/authorization.py), checked here again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from parlant.api.sessions import event_to_dto
from parlant.core.agents import AgentId
from parlant.core.application import Application
from parlant.core.common import ItemNotFoundError, JSONSerializable
from parlant.core.sessions import (
    Event,
    EventId,
    EventKind,
    EventSource,
    Participant,
    SessionId,
    SessionStore,
)
from prometheus_client import Counter

from agent.ai_reply_rules import check_ai_reply
from agent.key_locks import KeyLocks
from agent.operator_session_route import OperatorSessionRoute, no_such_session
from agent.reply_keys import origin_key, reply_key, reply_origin, same_origin
from agent.store.claims import Claims, UnknownCustomer
from agent.store.escalations import EscalationIndex
from handoff import record as records
from handoff.copilot_events import COPILOT_LABEL, HeldReply
from handoff.operator_api import REPLIES_PATH, reply_body_problem
from handoff.record import METADATA_KEY, read_record, utc_now_iso

log = logging.getLogger(__name__)

LOCK_STRIPES = 64
# Where each kind of reply is stored (`_store`): a reply POSTed again is looked for there.
SOURCE_BY_AS = {
    "human": EventSource.HUMAN_AGENT,
    "ai": EventSource.HUMAN_AGENT_ON_BEHALF_OF_AI_AGENT,
}


class ReplyRoute(OperatorSessionRoute):
    def __init__(
        self,
        operator_token: str | None,
        claims: Claims | None = None,
        keys: KeyLocks | None = None,
        held: Counter | None = None,
        index: EscalationIndex | None = None,
    ) -> None:
        super().__init__(operator_token)
        # Where a reply POSTed again is looked for by its origin (None: stores without one,
        # read through Parlant's store instead).
        self._index = index
        self._held_count = held
        self._keys = keys or KeyLocks()
        # The customer's own policy and claim numbers, which an `ai:` reply may name.
        self._claims = claims
        # Striped: a session always maps to the same lock, and the set stays bounded.
        self._locks = [asyncio.Lock() for _ in range(LOCK_STRIPES)]

    def install(self, app: FastAPI) -> None:
        @app.post(REPLIES_PATH, include_in_schema=False)
        async def reply(session_id: str, request: Request) -> Response:
            # The session is read under the lock below, so the preamble's steps are taken one
            # by one here, a malformed body answered before the start-up check.
            refused = self.not_operator(request)
            if refused is not None:
                return refused
            try:
                body = await request.json()
            except ValueError:
                body = None
            problem = reply_body_problem(body)
            if problem:
                return JSONResponse({"detail": problem}, status_code=422)
            starting = self.starting()
            if starting is not None:
                return starting
            # One reply of a session at a time here: the record's read, transition and write
            # are not interleaved with another's (two agents can still race; see actions.py).
            async with self._locks[hash(session_id) % LOCK_STRIPES]:
                try:
                    return await self._reply(SessionId(session_id), body)
                except ItemNotFoundError:
                    return no_such_session()

    async def _held(
        self, session_id: SessionId, customer_id: str, body: Mapping[str, Any]
    ) -> Response | None:
        """An `ai:` reply that breaks a rule (agent/ai_reply_rules.py) is not sent: 422 with
        `held` naming the rule (recorded in the session and counted), unless the operator sends
        it anyway (`override` names that very rule; recorded with the event and logged)."""
        policies, claims = await self._own_numbers(customer_id)
        hit = check_ai_reply(str(body["message"]), policies, claims)
        if hit is None:
            return None
        operator = body["operator"]
        if body.get("override") == hit.rule:
            log.info(
                "ai reply sent despite rule=%s operator=%s (%s)",
                hit.rule,
                operator["id"],
                operator["origin"],
            )
            return None
        log.info("ai reply held rule=%s operator=%s", hit.rule, operator["id"])
        if self._held_count is not None:
            self._held_count.labels(rule=hit.rule).inc()
        held = HeldReply(
            hit.rule, str(operator["id"]), str(operator["name"]), reply_key(body.get("metadata"))
        )
        await self._record_hold(session_id, held)
        return JSONResponse(
            {
                "detail": f"not sent in the agent's name: {hit.why}",
                "held": {"rule": hit.rule, "why": hit.why},
            },
            status_code=422,
        )

    async def _record_hold(self, session_id: SessionId, held: HeldReply) -> None:
        """The hold, in the session the dashboard reads (labelled so it is found). A hold not
        recorded costs a figure, never the reply: the operator is told it was held either way."""
        assert self._container is not None
        try:
            await self._container[Application].sessions.create_event(
                session_id=session_id,
                kind=EventKind.CUSTOM,
                data=held.as_event_data(),
                metadata={},
                source=EventSource.SYSTEM,
                trigger_processing=False,
            )
            await self._container[SessionStore].upsert_labels(  # type: ignore[type-abstract]
                session_id, labels={COPILOT_LABEL}
            )
        except Exception:
            log.exception("recording the held ai reply failed session=%s", session_id)

    async def _own_numbers(self, customer_id: str) -> tuple[list[str], list[str]]:
        if self._claims is None:
            return [], []
        try:
            policy = await asyncio.to_thread(self._claims.policy_for, customer_id)
        except UnknownCustomer:
            return [], []  # a guest: no number is theirs
        claims = await asyncio.to_thread(self._claims.open_claims, customer_id)
        return [policy.policy_number], [c.claim_id for c in claims]

    async def _reply(self, session_id: SessionId, body: Mapping[str, Any]) -> Response:
        origin = reply_origin(body.get("metadata"))
        if origin is None:
            return await self._store(session_id, body)
        # A reply POSTed again (its first answer lost, or a dead bridge's POST still in here)
        # gets the event stored for it, whichever replica stored it (agent/reply_keys.py).
        async with self._keys.hold(origin_key(*origin)):
            found = await self._stored(session_id, origin, SOURCE_BY_AS[str(body["as"])])
            if found is not None:
                log.info("operator reply already stored session=%s event=%s", session_id, found.id)
                return JSONResponse(event_to_dto(found).model_dump(mode="json"), status_code=201)
            return await self._store(session_id, body)

    async def _stored(
        self, session_id: SessionId, origin: tuple[str, str], source: EventSource
    ) -> Event | None:
        """The event stored for the reply from Slack message `origin` (channel, ts): a
        message of the source a reply of its kind is stored with."""
        assert self._container is not None
        sessions = self._container[Application].sessions
        store = self._container[SessionStore]  # type: ignore[type-abstract]
        await sessions.read(session_id)  # 404 for an unknown session, as when storing
        if self._index is not None:
            found = await self._index.operator_reply(session_id, source.value, *origin)
            return None if found is None else await store.read_event(session_id, EventId(found))
        key = origin_key(*origin)
        events = await store.list_events(session_id, source=source, kinds=[EventKind.MESSAGE])
        return next((e for e in events if same_origin(dict(e.metadata or {}), key)), None)

    async def _store(self, session_id: SessionId, body: Mapping[str, Any]) -> Response:
        assert self._container is not None
        sessions = self._container[Application].sessions
        session = await sessions.read(session_id)
        existing = read_record(session.metadata)
        if existing is None or existing.get("status") not in records.ACTIVE_STATUSES:
            status = existing.get("status") if existing else None
            return JSONResponse(
                {
                    "detail": f"the handoff is not with a human (status: {status or 'none'})",
                    "status": status,
                },
                status_code=409,
            )
        operator = body["operator"]
        if body["as"] == "ai":
            held = await self._held(session_id, session.customer_id, body)
            if held is not None:
                return held
        updated = records.after_human_reply(
            existing, str(operator["id"]), str(operator["name"]), utc_now_iso()
        )
        if updated != existing:
            await sessions.update(
                session_id,
                params={
                    "metadata": {**session.metadata, METADATA_KEY: cast(JSONSerializable, updated)}
                },
            )
        metadata: dict[str, JSONSerializable] = {
            "operator": {k: str(operator[k]) for k in ("id", "name", "origin")},
            **(body.get("metadata") or {}),
        }
        if body.get("override"):
            metadata["sent_despite_rule"] = str(body["override"])
        if body["as"] == "human":
            event = await sessions.create_human_agent_message_event(
                session_id=session_id,
                message=body["message"],
                participant=Participant(
                    id=AgentId(str(operator["id"])), display_name=str(operator["name"])
                ),
                metadata=metadata,
            )
        else:
            event = await sessions.create_human_agent_on_behalf_of_ai_agent_message_event(
                session_id=session_id, message=body["message"], metadata=metadata
            )
        log.info(
            "operator reply stored session=%s event=%s as=%s", session_id, event.id, body["as"]
        )
        # Parlant's own event shape, so the client reads it as it reads create_event's answer.
        return JSONResponse(event_to_dto(event).model_dump(mode="json"), status_code=201)
