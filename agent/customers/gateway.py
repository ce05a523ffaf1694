"""The customers' door into Parlant: a token proves who calls, and a customer sees only their own.

Every customer call carries a token: the insurer's signed customer token or one of our guest
tokens, as `Authorization: Bearer <token>` (the /support page) or as the first path segment
`/c/<token>/…` (the official widget, which cannot send headers: its `server` prop is the only
thing the host page sets). This middleware serves those calls itself, in Parlant's own REST
shapes, by asking Parlant in-process with operator rights and answering with the customer's
view (agent/customers/view.py):

- a session belongs to the customer named in it; anyone else, whatever ids they hold, gets
  404 (a session id is an address, printed in Slack and the dashboard, never a credential);
- sessions are created for the caller only, with at most a title; greetings and moderation
  stay with operators;
- messages are text only, within CUSTOMER_MAX_MESSAGE_CHARS, rate-limited per address; the
  one exception is the widget's `agentOpeningMessage`, which it posts in the agent's voice:
  accepted only as the first event of the caller's own new session, and recorded as the chat
  page's opening (metadata), not as the AI's or an operator's words;
- events are listed as messages and status only, with nothing internal in them;
- a session listing takes Parlant's paging (limit, cursor, sort) and agent filter; anything
  else a customer may not use (labels, another customer) is refused, never silently ignored;
- the official widget shows no failed call: what must be refused at a widget chat's start is
  answered with a refused session that says why (agent/customers/refused.py), and a refused
  first message with a notice written into its session.

Calls without a customer token pass through to Parlant; the door in front of this middleware
(agent/authorization.py) has already refused them unless they carry the operator token or ask
for an open path.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.customers import identity, refused
from agent.customers.identity import InvalidToken, Principal
from agent.customers.limits import LongPolls, RateLimiter, TooManyRequests, client_address
from agent.customers.notices import handoff_notice
from agent.customers.settings import CustomerSettings, SigningKeys
from agent.customers.view import (
    CUSTOMER_KINDS,
    customer_agent,
    customer_event,
    customer_events,
    customer_session,
)
from handoff.actions import NOT_SENT_NOTICE, PAGE_OPENING, is_page_opening
from handoff.sla import SlaSettings

log = logging.getLogger(__name__)

TOKEN_PREFIX = "/c/"
PRINCIPAL_KEY = "customer_principal"
# Set on calls whose token came in the path: the official widget's, which show no failed call.
WIDGET_KEY = "customer_token_in_path"
MAX_BODY_BYTES = 64 * 1024
MAX_TITLE_CHARS = 200
MAX_WAIT_S = 60
MAX_NUMBER_DIGITS = 9
OWNER_CACHE_SIZE = 50_000
# What Parlant's ids are made of (its generated ids are 10 letters and digits, or a uuid4's hex;
# ours, like the agent's, are words joined by hyphens). An id from a customer's path is pasted
# into a call to Parlant: `.` there would be a dot segment, `?` a query, so anything else is
# refused before any call, as an id that cannot exist.
PARLANT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_ID_CHARS = 128
# The widget's `agentOpeningMessage` is posted in the agent's voice, right after the session is
# created and before the customer's first message.
OPENING_SOURCE = "human_agent_on_behalf_of_ai_agent"
OPENING_WINDOW_S = 120

Handler = Callable[[Request], Awaitable[Response]]


class Refusal(Exception):
    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail}, self.status, headers=self.headers)


class CustomerGateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: CustomerSettings,
        keys: SigningKeys,
        operator_token: str | None,
        agent_name: str,
        demo_customers: Mapping[str, str],
        sla: SlaSettings,
    ) -> None:
        self.app = app
        self._fastapi_app: ASGIApp | None = None
        self.settings = settings
        self.keys = keys
        self.agent_name = agent_name
        self.sla = sla
        self.demo_customers = dict(demo_customers) if keys.demo_secret else {}
        self._operator_header = f"Bearer {operator_token}" if operator_token else None
        headers = {"authorization": self._operator_header} if self._operator_header else {}
        # Parlant answers in-process: no socket, and its own routes, validation and long polls.
        self._parlant = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self._parlant_app, raise_app_exceptions=False),
            base_url="http://parlant.internal",
            headers=headers,
            timeout=httpx.Timeout(MAX_WAIT_S + 30),
        )
        self._rates = RateLimiter()
        self._long_polls = LongPolls(settings.limits.long_polls)
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._known_customers: set[str] = set()
        guarded = self._guarded
        self._customer_routes = Router(
            routes=[
                Route("/agents/{agent_id}", guarded(self.read_agent), methods=["GET"]),
                Route("/sessions", guarded(self.list_sessions), methods=["GET"]),
                Route("/sessions", guarded(self.create_session), methods=["POST"]),
                Route("/sessions/{session_id}", guarded(self.read_session), methods=["GET"]),
                Route("/sessions/{session_id}/events", guarded(self.list_events), methods=["GET"]),
                Route(
                    "/sessions/{session_id}/events",
                    guarded(self.create_event),
                    methods=["POST"],
                ),
            ],
            default=self._not_for_customers,
        )
        self._token_routes = Router(
            routes=[
                Route("/customer/options", guarded(self.options), methods=["GET"]),
                Route("/customer/guest-token", guarded(self.guest_token), methods=["POST"]),
                Route("/customer/demo-token", guarded(self.demo_token), methods=["POST"]),
            ],
        )

    async def _parlant_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's routing reads the application from the scope, which Starlette sets on
        # the way in; calls made from here enter below that point.
        scope["app"] = self._fastapi_app
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._fastapi_app = self._fastapi_app or scope.get("app")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/customer/"):
            await self._token_routes(_without_app(scope), receive, send)
            return
        token, rest = self._token_of(scope)
        in_path = token is not None and path.startswith(TOKEN_PREFIX)
        if token is None:
            await self.app(scope, receive, send)
            return
        try:
            principal = self._verify(token)
        except Refusal as refusal:
            await refusal.response()(scope, receive, send)
            return
        if scope["method"] not in ("GET", "POST"):
            await Refusal(403, "customers may not do this").response()(scope, receive, send)
            return
        # The token leaves the path here, so nothing below (or a log of it) sees it.
        inner = _without_app(scope)
        inner.update(
            path=rest, raw_path=rest.encode(), **{PRINCIPAL_KEY: principal, WIDGET_KEY: in_path}
        )
        await self._customer_routes(inner, receive, send)

    # --- who is calling -------------------------------------------------------------------

    def _token_of(self, scope: Scope) -> tuple[str | None, str]:
        path: str = scope["path"]
        if path.startswith(TOKEN_PREFIX):
            token, _, rest = path[len(TOKEN_PREFIX) :].partition("/")
            return token, "/" + rest
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if header == self._operator_header or not header.lower().startswith("bearer "):
            return None, path
        value = header[len("bearer ") :].strip()
        return (value, path) if identity.looks_like_jwt(value) else (None, path)

    def _verify(self, token: str) -> Principal:
        try:
            if identity.is_guest_token(token):
                if self.keys.guest_secret is None:
                    raise Refusal(401, "guest chats are off here; sign in to chat")
                return identity.verify_guest_token(token, self.keys.guest_secret)
            if self.keys.customer is None:
                raise Refusal(401, "customer sign-in is not configured on this agent")
            return identity.verify_customer_token(token, self.keys.customer)
        except InvalidToken as error:
            raise Refusal(
                401, f"sign-in refused: {error}", {"WWW-Authenticate": "Bearer"}
            ) from error

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                self._check_origin(request)
                _check_path_ids(request)
                return await handler(request)
            except Refusal as refusal:
                if refusal.status >= 500:
                    log.warning("customer call failed status=%d", refusal.status)
                return refusal.response()
            except TooManyRequests as limited:
                log.info("customer call limited what=%s", limited.what)
                return JSONResponse(
                    {
                        "detail": f"too many requests ({limited.what}); "
                        f"try again in {limited.retry_after_s} s"
                    },
                    429,
                    headers={"Retry-After": str(limited.retry_after_s)},
                )

        return guarded

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None or origin in self.settings.allowed_origins:
            return
        if urlsplit(origin).netloc == request.headers.get("host"):
            return
        raise Refusal(403, "this site may not embed the support chat (CUSTOMER_ALLOWED_ORIGINS)")

    def _address(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(
            peer, request.headers.getlist("x-forwarded-for"), self.settings.trusted_proxies
        )

    @staticmethod
    def _principal(request: Request) -> Principal:
        principal = request.scope[PRINCIPAL_KEY]
        assert isinstance(principal, Principal)
        return principal

    async def _not_for_customers(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Refusal(403, "customers may not do this").response()(scope, receive, send)

    # --- tokens for the chat page ----------------------------------------------------------

    async def options(self, request: Request) -> Response:
        return JSONResponse(
            {
                "guests": self.keys.guest_secret is not None,
                "handoff_notice": handoff_notice(self.sla, datetime.now(UTC)),
                "max_message_chars": self.settings.max_message_chars,
                "demo_customers": [
                    {"id": customer_id, "name": name}
                    for customer_id, name in self.demo_customers.items()
                ],
            }
        )

    async def guest_token(self, request: Request) -> Response:
        if self.keys.guest_secret is None:
            raise Refusal(403, "guest chats are off here; sign in to chat")
        self._rates.hit(self.settings.limits.tokens, "tokens", self._address(request))
        token, principal = identity.mint_guest_token(
            self.keys.guest_secret, self.settings.guest_token_lifetime_s
        )
        return JSONResponse(
            {"token": token, "kind": principal.kind, "expires_at": principal.expires_at}
        )

    async def demo_token(self, request: Request) -> Response:
        if self.keys.demo_secret is None:
            raise Refusal(404, "the demo's sample customers are off (CUSTOMER_DEMO)")
        self._rates.hit(self.settings.limits.tokens, "tokens", self._address(request))
        body = await self._json_body(request)
        customer_id = body.get("customer_id")
        name = self.demo_customers.get(customer_id) if isinstance(customer_id, str) else None
        if name is None or not isinstance(customer_id, str):
            raise Refusal(422, f"customer_id must be one of {', '.join(self.demo_customers)}")
        lifetime = min(3600, self.settings.token_max_lifetime_s)
        token = identity.mint_customer_token(self.keys.demo_secret, customer_id, name, lifetime)
        return JSONResponse({"token": token, "kind": identity.CUSTOMER, "name": name})

    # --- Parlant's routes, as a customer sees them -----------------------------------------

    async def read_agent(self, request: Request) -> Response:
        self._rates.hit(self.settings.limits.reads, "reads", self._address(request))
        answer = await self._ask("GET", f"/agents/{request.path_params['agent_id']}")
        return JSONResponse(customer_agent(answer.json()))

    async def list_sessions(self, request: Request) -> Response:
        principal = self._principal(request)
        self._rates.hit(self.settings.limits.listings, "listings", self._address(request))
        params = _listing_params(request, principal.customer_id)
        answer = await self._ask("GET", "/sessions", params=params)
        listing = answer.json()
        if isinstance(listing, dict):  # with `limit`, Parlant's paginated listing
            found = listing.get("items")
            items: list[Any] = found if isinstance(found, list) else []
            return JSONResponse(
                {
                    "items": [customer_session(s) for s in items if isinstance(s, dict)],
                    "total_count": listing.get("total_count", len(items)),
                    "has_more": bool(listing.get("has_more", False)),
                    "next_cursor": listing.get("next_cursor"),
                }
            )
        sessions = [customer_session(s) for s in listing if isinstance(s, dict)]
        if "sort" in params:
            return JSONResponse(sessions)
        return JSONResponse(sorted(sessions, key=lambda s: str(s["creation_utc"]), reverse=True))

    async def create_session(self, request: Request) -> Response:
        principal = self._principal(request)
        self._rates.hit(self.settings.limits.sessions, "sessions", self._address(request))
        if request.query_params.get("allow_greeting", "false").lower() not in ("false", "0"):
            raise Refusal(403, "customers may not ask for a greeting")
        body = await self._json_body(request)
        _only(body, {"agent_id", "title", "customer_id"}, "a session")
        agent_id = body.get("agent_id")
        if body.get("customer_id") not in (None, principal.customer_id):
            if request.scope.get(WIDGET_KEY):
                # The widget would drop a 403 and the customer's first message with it.
                not_started = refused.refused_session(
                    "customer",
                    time.time(),
                    agent_id
                    if isinstance(agent_id, str) and PARLANT_ID.fullmatch(agent_id)
                    else "",
                    MAX_ID_CHARS,
                )
                log.info("customer session refused reason=customer kind=%s", principal.kind)
                return JSONResponse(refused.session_view(not_started, principal.customer_id), 201)
            raise Refusal(403, "a session is created for the signed-in customer only")
        if not isinstance(agent_id, str) or not agent_id:
            raise Refusal(422, "agent_id is required")
        if not PARLANT_ID.fullmatch(agent_id):
            # Parlant logs the id of an agent it does not find as it was sent.
            raise Refusal(422, "agent_id is not an agent's id")
        title = body.get("title")
        if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE_CHARS):
            raise Refusal(422, f"title must be text of at most {MAX_TITLE_CHARS} characters")
        await self._ensure_customer(principal)
        answer = await self._ask(
            "POST",
            "/sessions",
            params={"allow_greeting": "false"},
            json={"agent_id": agent_id, "customer_id": principal.customer_id, "title": title},
        )
        session = answer.json()
        self._remember_owner(str(session["id"]), principal.customer_id)
        log.info("customer session created session=%s kind=%s", session["id"], principal.kind)
        return JSONResponse(customer_session(session), 201)

    async def read_session(self, request: Request) -> Response:
        if not_started := refused.parse(request.path_params["session_id"]):
            customer_id = self._principal(request).customer_id
            return JSONResponse(refused.session_view(not_started, customer_id))
        session = await self._owned_session(request)
        return JSONResponse(customer_session(session))

    async def create_event(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if not_started := refused.parse(session_id):
            return self._post_to_refused(not_started)
        await self._check_owner(request)
        body = await self._json_body(request)
        _only(body, {"kind", "source", "message"}, "a customer message")
        source = body.get("source")
        if body.get("kind") != "message" or source not in ("customer", None, OPENING_SOURCE):
            raise Refusal(
                403,
                "customers may only send messages (kind=message, source=customer), and open "
                f"a new session with the page's opening message (source={OPENING_SOURCE})",
            )
        message = body.get("message")
        if not isinstance(message, str):
            raise Refusal(422, "message must be text")
        try:
            self._admit(request, message)
        except (Refusal, TooManyRequests) as refused_message:
            if source == OPENING_SOURCE or not request.scope.get(WIDGET_KEY):
                raise
            # The widget opens the session only once its first message is accepted, and
            # shows no failed call: the reason goes into the session instead, once.
            notice = await self._not_sent_notice(session_id, refused_message)
            if notice is None:
                raise
            return notice
        event: dict[str, Any] = {"kind": "message", "source": "customer", "message": message}
        if source == OPENING_SOURCE:
            await self._check_opening(session_id)
            # The operators' record keeps it as the page's words (the dashboard labels it so).
            event.update(source=OPENING_SOURCE, metadata=dict(PAGE_OPENING))
            log.info("customer session opened by its page session=%s", session_id)
        answer = await self._ask("POST", f"/sessions/{session_id}/events", json=event)
        shown = customer_event(answer.json(), self.agent_name)
        return JSONResponse(shown, 201)

    def _admit(self, request: Request, message: str) -> None:
        if len(message) > self.settings.max_message_chars:
            raise Refusal(
                413,
                f"the message is {len(message):,} characters; the limit is "
                f"{self.settings.max_message_chars:,}. Please shorten it or send it in parts.",
            )
        self._rates.hit(self.settings.limits.messages, "messages", self._address(request))

    async def _not_sent_notice(
        self, session_id: str, refused_message: Refusal | TooManyRequests
    ) -> Response | None:
        """For the widget's first message only (nothing in the session but the page's
        opening): a message in the session saying why it was not sent, answered as created."""
        events = await self._ask(
            "GET",
            f"/sessions/{session_id}/events",
            params={"min_offset": "0", "wait_for_data": "0"},
        )
        found = events.json()
        if not isinstance(found, list) or not all(
            isinstance(e, dict) and is_page_opening(e.get("metadata")) for e in found
        ):
            return None
        if isinstance(refused_message, TooManyRequests):
            why = f"too many messages; please wait {refused_message.retry_after_s} s and send it again."
        else:
            why = refused_message.detail
        answer = await self._ask(
            "POST",
            f"/sessions/{session_id}/events",
            json={
                "kind": "message",
                "source": OPENING_SOURCE,
                "message": f"Your message was not sent: {why}",
                "metadata": dict(NOT_SENT_NOTICE),
            },
        )
        log.info("customer's first message refused, said in the session session=%s", session_id)
        return JSONResponse(customer_event(answer.json(), self.agent_name), 201)

    async def _check_opening(self, session_id: str) -> None:
        """An opening is the first event of a session created moments ago (its owner is
        checked): a customer cannot put words in the agent's mouth later in a conversation.
        Two openings sent at the same instant may both pass; both are the customer's own, on
        their own new session, and each is recorded as the page's."""
        session = (await self._ask("GET", f"/sessions/{session_id}")).json()
        created = _utc_time(session.get("creation_utc"))
        age_s = (datetime.now(UTC) - created).total_seconds() if created else None
        if age_s is None or age_s > OPENING_WINDOW_S:
            raise Refusal(403, "an opening message only opens a new session")
        events = await self._ask(
            "GET",
            f"/sessions/{session_id}/events",
            params={"min_offset": "0", "wait_for_data": "0"},
        )
        if events.json():
            raise Refusal(403, "an opening message only opens a new session")

    def _post_to_refused(self, not_started: refused.RefusedSession) -> Response:
        if not_started.accepts_posts_at(time.time()):
            # The widget opens the session only once its first message is accepted; nothing
            # is stored, and the session's one message says that nothing was sent.
            return JSONResponse(refused.notice_event(not_started, self.agent_name), 201)
        raise Refusal(403, not_started.text)

    async def list_events(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        not_started = refused.parse(session_id)
        if not_started is None:
            await self._check_owner(request)
        query = request.query_params
        if query.get("sse", "false").lower() not in ("false", "0"):
            raise Refusal(403, "customers long-poll; streaming is for operators")
        kinds = {k.strip() for value in query.getlist("kinds") for k in value.split(",")}
        kinds.discard("")
        if not kinds <= CUSTOMER_KINDS:
            raise Refusal(403, "customers may list message and status events only")
        params: dict[str, str] = {"kinds": ",".join(sorted(kinds or CUSTOMER_KINDS))}
        min_offset = _whole_number(query.get("min_offset", "0"), "min_offset")
        params["min_offset"] = str(min_offset)
        wait = min(_whole_number(query.get("wait_for_data", str(MAX_WAIT_S)), "wait"), MAX_WAIT_S)
        params["wait_for_data"] = str(wait)
        if source := query.get("source"):
            params["source"] = source
        address = self._address(request)
        self._rates.hit(self.settings.limits.listings, "listings", address)
        if not_started is not None:
            if min_offset == 0 and "message" in params["kinds"]:
                return JSONResponse([refused.notice_event(not_started, self.agent_name)])
            # Nothing more will ever come: answered at once, as a long poll that found nothing.
            return JSONResponse([]) if wait == 0 else JSONResponse({"detail": "no new events"}, 504)
        if wait == 0:
            answer = await self._ask("GET", f"/sessions/{session_id}/events", params=params)
        else:
            with self._long_polls.hold(address):
                answer = await self._ask(
                    "GET", f"/sessions/{session_id}/events", params=params, allow={504}
                )
        if answer.status_code == 504:
            return JSONResponse({"detail": "no new events"}, 504)
        return JSONResponse(customer_events(answer.json(), self.agent_name))

    # --- asking Parlant ----------------------------------------------------------------------

    async def _ask(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        allow: frozenset[int] | set[int] = frozenset(),
    ) -> httpx.Response:
        answer = await self._parlant.request(method, path, params=params, json=json)
        if answer.is_success or answer.status_code in allow:
            return answer
        if answer.status_code == 404:
            raise Refusal(404, "not found")
        if answer.status_code == 422:
            raise Refusal(422, "the request is not valid")
        if answer.status_code == 429:
            raise Refusal(429, "too many requests; try again shortly", {"Retry-After": "5"})
        # Parlant's error bodies carry exception text and request headers: never passed on.
        log.debug("parlant answered %d to %s %s: %s", answer.status_code, method, path, answer.text)
        raise Refusal(502, "the support service had a problem; please try again")

    async def _owned_session(self, request: Request) -> dict[str, Any]:
        """The caller's session as Parlant holds it; 404 for anyone else's."""
        principal = self._principal(request)
        session_id = request.path_params["session_id"]
        # Every read of a session, and every lookup of an id whose owner is not known yet.
        self._rates.hit(self.settings.limits.reads, "reads", self._address(request))
        owner = self._owners.get(session_id)
        if owner is not None and owner != principal.customer_id:
            raise Refusal(404, "not found")
        answer = await self._ask("GET", f"/sessions/{session_id}")
        session: dict[str, Any] = answer.json()
        if session.get("customer_id") != principal.customer_id:
            # The same answer as for a session that does not exist: an id proves nothing.
            raise Refusal(404, "not found")
        self._remember_owner(session_id, principal.customer_id)
        return session

    async def _check_owner(self, request: Request) -> None:
        """Like _owned_session, without reading the session again once its owner is known:
        a session's customer does not change, and every long poll and message passes here."""
        owner = self._owners.get(request.path_params["session_id"])
        if owner == self._principal(request).customer_id:
            self._owners.move_to_end(request.path_params["session_id"])
            return
        await self._owned_session(request)

    def _remember_owner(self, session_id: str, customer_id: str) -> None:
        self._owners[session_id] = customer_id
        self._owners.move_to_end(session_id)
        while len(self._owners) > OWNER_CACHE_SIZE:
            self._owners.popitem(last=False)

    async def _ensure_customer(self, principal: Principal) -> None:
        if principal.customer_id in self._known_customers:
            return
        customer_path = f"/customers/{quote(principal.customer_id, safe='')}"
        found = await self._parlant.get(customer_path)
        if found.status_code == 404:
            created = await self._parlant.post(
                "/customers", json={"id": principal.customer_id, "name": principal.name}
            )
            if not created.is_success:
                # Created by a concurrent first call of the same customer, or a real failure.
                await self._ask("GET", customer_path)
            log.info("customer created customer_kind=%s", principal.kind)
        elif not found.is_success:
            log.debug("parlant answered %d to a customer lookup: %s", found.status_code, found.text)
            raise Refusal(502, "the support service had a problem; please try again")
        self._known_customers.add(principal.customer_id)

    @staticmethod
    async def _json_body(request: Request) -> dict[str, Any]:
        raw = bytearray()
        async for chunk in request.stream():
            raw.extend(chunk)
            if len(raw) > MAX_BODY_BYTES:
                raise Refusal(413, f"the request is larger than {MAX_BODY_BYTES // 1024} KiB")
        try:
            body = json.loads(raw or b"{}")
        except ValueError as error:
            raise Refusal(422, "the body is not JSON") from error
        except RecursionError as error:
            raise Refusal(422, "the body is nested too deeply") from error
        if not isinstance(body, dict):
            raise Refusal(422, "the body must be a JSON object")
        _check_text(body)
        return body


def is_customer_call(scope: Scope) -> bool:
    """Whether the gateway serves this call: a token route, a token in the path, or a bearer
    that looks like a customer's token (checked by the gateway before anything is read)."""
    path: str = scope["path"]
    if path.startswith((TOKEN_PREFIX, "/customer/")):
        return True
    header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    if not header.lower().startswith("bearer "):
        return False
    return identity.looks_like_jwt(header[len("bearer ") :].strip())


def _without_app(scope: Scope) -> dict[str, Any]:
    # Without the application in the scope, Starlette's routing answers a wrong method or path
    # itself instead of raising into FastAPI's handlers, which sit below this middleware.
    return {k: v for k, v in scope.items() if k != "app"}


def _check_path_ids(request: Request) -> None:
    for value in request.path_params.values():
        if not isinstance(value, str) or not PARLANT_ID.fullmatch(value):
            raise Refusal(404, "not found")


# What a customer's session listing takes, as Parlant's does; `labels` (internal) and anything
# Parlant would ignore are refused rather than silently dropped.
LISTING_PARAMS = frozenset({"agent_id", "customer_id", "limit", "cursor", "sort"})


def _listing_params(request: Request, customer_id: str) -> dict[str, str]:
    query = request.query_params
    unknown = sorted(set(query.keys()) - LISTING_PARAMS)
    if unknown:
        raise Refusal(403, f"customers may not list sessions by {', '.join(unknown)}")
    if query.get("customer_id") not in (None, customer_id):
        raise Refusal(403, "customers may list their own sessions only")
    params = {"customer_id": customer_id}
    if agent_id := query.get("agent_id"):
        if not PARLANT_ID.fullmatch(agent_id):
            raise Refusal(422, "agent_id is not an agent's id")
        params["agent_id"] = agent_id
    if (limit := query.get("limit")) is not None:
        number = _whole_number(limit, "limit")
        if not 1 <= number <= 100:
            raise Refusal(422, "limit must be from 1 to 100")
        params["limit"] = str(number)
    if cursor := query.get("cursor"):
        if len(cursor) > 512 or not cursor.isascii():
            raise Refusal(422, "cursor is not one this server gave")
        params["cursor"] = cursor
    if (sort := query.get("sort")) is not None:
        if sort not in ("asc", "desc"):
            raise Refusal(422, "sort must be asc or desc")
        params["sort"] = sort
    return params


def _only(body: Mapping[str, Any], allowed: set[str], what: str) -> None:
    # Clients send unset fields as null or empty; only a value that says something counts.
    extra = sorted(k for k, v in body.items() if k not in allowed and v not in (None, "", [], {}))
    if extra:
        raise Refusal(403, f"customers may not set {', '.join(extra)} on {what}")


def _check_text(body: dict[str, Any]) -> None:
    """JSON may escape half a UTF-16 pair (`"\\ud800"`), which no UTF-8 text can carry: the
    call to Parlant would fail to encode it, as would any store or log that writes it."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise Refusal(
            422, "the body has text that is not valid Unicode (a lone surrogate)"
        ) from error
    except RecursionError as error:
        raise Refusal(422, "the body is nested too deeply") from error


def _utc_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole_number(raw: str, name: str) -> int:
    # ASCII only: str.isdigit() also takes "²" (int() refuses it) and other scripts' digits;
    # and a bounded length, as int() refuses more than 4,300 digits with a ValueError.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_NUMBER_DIGITS:
        raise Refusal(422, f"{name} must be a whole number of at most {MAX_NUMBER_DIGITS} digits")
    return int(raw)
