"""Canned replies over HTTP: kept by supervisors (the dashboard), offered to operators (the
Slack bridge), filled with one customer's data. Operators only, as every /escalations/ path
(agent/authorization.py), checked here again: 403 without the operator token.

- `GET /escalations/canned-replies?q=words`: `{"items": [reply...]}`, by category and title;
  with `q`, those whose title, category or text hold every word.
- `POST /escalations/canned-replies` `{"title", "body", "category"?, "by"?}`: 201 and the reply;
  422 `{"detail"}` saying what to change (an unknown placeholder, a missing title...).
- `GET`, `PUT` (same body), `DELETE /escalations/canned-replies/{reply_id}`: 200, 200, 204; 404
  for an unknown reply.
- `GET /escalations/{session_id}/canned-replies/{reply_id}`: the reply filled for the
  session's customer, `{"id", "title", "text"}`; 422 `{"detail", "missing", "unknown"}` when a
  placeholder has no value for this customer (nothing half-filled is ever handed out); 409
  `{"detail", "status"}` when the session is not with a person (a reply would be refused); 404
  for an unknown session or reply.

Values: the name from the customer's record in Parlant (a signed-in customer's token names
them; guests have none), else the policy holder's name; the policy number from the claims
store (agent/store/claims.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from lagom import Container
from parlant.core.application import Application
from parlant.core.common import ItemNotFoundError
from parlant.core.customers import CustomerId, CustomerStore
from parlant.core.sessions import SessionId

from agent.authorization import OperatorCheck
from agent.canned_text import customer_values, fill, matches, reply_problem
from agent.customers.identity import is_guest_customer_id
from agent.store.canned_replies import CannedDraft, CannedReplies
from agent.store.claims import Claims, Policy, UnknownCustomer
from handoff.record import ACTIVE_STATUSES, read_record

log = logging.getLogger(__name__)

PATH = "/escalations/canned-replies"
FILLED_PATH = "/escalations/{session_id}/canned-replies/{reply_id}"
QUERY_LIMIT = 200


def _refused() -> JSONResponse:
    return JSONResponse({"detail": "this needs the operator token"}, status_code=403)


def _no_reply() -> JSONResponse:
    return JSONResponse({"detail": "no such canned reply"}, status_code=404)


class CannedRoute:
    def __init__(self, operator_token: str | None, replies: CannedReplies, claims: Claims) -> None:
        self._is_operator = OperatorCheck(operator_token)
        self._replies = replies
        self._claims = claims
        self._container: Container | None = None

    def bind(self, container: Container) -> None:
        self._container = container

    def install(self, app: FastAPI) -> None:
        @app.get(PATH, include_in_schema=False)
        async def listed(request: Request, q: str = "") -> Response:
            if not self._is_operator(request):
                return _refused()
            if len(q) > QUERY_LIMIT:
                return JSONResponse(
                    {"detail": f"q is longer than {QUERY_LIMIT} characters"}, status_code=422
                )
            found = await asyncio.to_thread(self._replies.all)
            items = [r for r in found if matches(q, r.title, r.category, r.body)]
            return JSONResponse({"items": [asdict(r) for r in items]})

        @app.post(PATH, include_in_schema=False)
        async def added(request: Request) -> Response:
            if not self._is_operator(request):
                return _refused()
            draft = await _draft(request)
            if isinstance(draft, str):
                return JSONResponse({"detail": draft}, status_code=422)
            reply = await asyncio.to_thread(self._replies.add, draft)
            log.info("canned reply added id=%s", reply.id)
            return JSONResponse(asdict(reply), status_code=201)

        @app.get(PATH + "/{reply_id}", include_in_schema=False)
        async def one(reply_id: str, request: Request) -> Response:
            if not self._is_operator(request):
                return _refused()
            reply = await asyncio.to_thread(self._replies.get, reply_id)
            return JSONResponse(asdict(reply)) if reply else _no_reply()

        @app.put(PATH + "/{reply_id}", include_in_schema=False)
        async def replaced(reply_id: str, request: Request) -> Response:
            if not self._is_operator(request):
                return _refused()
            draft = await _draft(request)
            if isinstance(draft, str):
                return JSONResponse({"detail": draft}, status_code=422)
            reply = await asyncio.to_thread(self._replies.replace, reply_id, draft)
            if reply is None:
                return _no_reply()
            log.info("canned reply changed id=%s", reply_id)
            return JSONResponse(asdict(reply))

        @app.delete(PATH + "/{reply_id}", include_in_schema=False)
        async def removed(reply_id: str, request: Request) -> Response:
            if not self._is_operator(request):
                return _refused()
            if not await asyncio.to_thread(self._replies.remove, reply_id):
                return _no_reply()
            log.info("canned reply removed id=%s", reply_id)
            return Response(status_code=204)

        @app.get(FILLED_PATH, include_in_schema=False)
        async def filled(session_id: str, reply_id: str, request: Request) -> Response:
            if not self._is_operator(request):
                return _refused()
            if self._container is None:
                return JSONResponse({"detail": "the agent is starting"}, status_code=503)
            reply = await asyncio.to_thread(self._replies.get, reply_id)
            if reply is None:
                return _no_reply()
            try:
                session = await self._container[Application].sessions.read(SessionId(session_id))
            except ItemNotFoundError:
                return JSONResponse({"detail": "no such session"}, status_code=404)
            record = read_record(session.metadata)
            status = record.get("status") if record else None
            if status not in ACTIVE_STATUSES:
                return JSONResponse(
                    {
                        "detail": "Not sent: this conversation is not with a person now "
                        f"(status: {status or 'none'}). Take it over first.",
                        "status": status,
                    },
                    status_code=409,
                )
            name, policy_number = await self._customer_facts(session.customer_id)
            result = fill(reply.body, customer_values(name, policy_number))
            if result.text is None:
                log.info(
                    "canned reply not filled id=%s session=%s missing=%s unknown=%s",
                    reply_id,
                    session_id,
                    ",".join(result.missing),
                    ",".join(result.unknown),
                )
                return JSONResponse(
                    {
                        "detail": result.problem,
                        "missing": list(result.missing),
                        "unknown": list(result.unknown),
                    },
                    status_code=422,
                )
            return JSONResponse({"id": reply.id, "title": reply.title, "text": result.text})

    async def _customer_facts(self, customer_id: str) -> tuple[str | None, str | None]:
        if is_guest_customer_id(customer_id):
            return None, None  # a guest gave no name and holds no policy
        assert self._container is not None
        name: str | None = None
        try:
            customer = await self._container[CustomerStore].read_customer(  # type: ignore[type-abstract]
                CustomerId(customer_id)
            )
            name = customer.name
        except ItemNotFoundError:
            pass
        policy: Policy | None
        try:
            policy = await asyncio.to_thread(self._claims.policy_for, customer_id)
        except UnknownCustomer:
            policy = None
        if not name and policy is not None:
            name = policy.customer_name
        return name, policy.policy_number if policy else None


async def _draft(request: Request) -> CannedDraft | str:
    """The reply in a POST or PUT body, or what is wrong with it in words."""
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    title, text = body.get("title"), body.get("body")
    category, by = body.get("category", ""), body.get("by", "")
    problem = reply_problem(title, text, "" if category is None else category)
    if problem:
        return problem
    if not isinstance(by, str) or len(by) > 200:
        return '"by" must be a name, 200 characters at most'
    return CannedDraft(str(title), str(text), str(category or ""), by)
