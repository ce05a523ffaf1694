"""The agent's own operator API, written once for both sides: the agent's routes
(agent/escalation_routes.py, reply_route.py, turn_route.py, draft_route.py, backlog_route.py,
usage_route.py) take their paths, limits and body rules from here, and the callers (the Slack
bridge, the dashboard, handoff/actions.py) reach those routes only through the clients below.

Parlant's generated client knows Parlant's routes, not these. Before, four hand-written clients
in three packages built the paths and bodies themselves, and the actions reached into the
generated client's private `_client_wrapper` for its connection pool: a renamed path or a
changed rule had to be found in each. `OperatorClient` / `AsyncOperatorClient` are Parlant's
clients with `.operator` beside `.sessions`, on the same connection pool and headers (the
operator token); `OperatorApi` / `AsyncOperatorApi` alone serve code that needs no Parlant
client (the bridge's listing and feed reader, with their own time-outs).

The contract is tested against a real agent: tests/test_operator_api.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
from parlant.client import AsyncParlantClient, ParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.core.pydantic_utilities import parse_obj_as
from parlant.client.types import Event

from handoff.record import HandoffNotActive

PREFIX = "/escalations"
OPEN_PATH = f"{PREFIX}/open"
HISTORY_PATH = f"{PREFIX}/history"
FEED_PATH = f"{PREFIX}/feed"
REPLIES_PATH = f"{PREFIX}/{{session_id}}/replies"
TURN_PATH = f"{PREFIX}/{{session_id}}/turn"
DRAFT_PATH = f"{PREFIX}/{{session_id}}/draft"
SLACK_BACKLOG_PATH = f"{PREFIX}/slack-backlog"
LLM_USAGE_PATH = f"{PREFIX}/llm-usage"

# The feed's and the history's page sizes: the default when none is asked for, and the most.
FEED_PAGE = 100
HISTORY_PAGE = 50
MAX_PAGE = 1000
# The longest long poll of the feed; HAProxy's `timeout server` is above it (docs/replicas.md).
MAX_WAIT_S = 60
# An operator's message, in characters (Slack's own limit is 40,000 too).
MESSAGE_LIMIT = 40_000
# A bridge's backlog report names a handful of channels: a few hundred bytes.
BACKLOG_MAX_BODY_BYTES = 64 * 1024
# How long the agent may take to answer a feed read beyond the long poll's own wait.
FEED_ANSWER_S = 30.0

ReplyAs = Literal["human", "ai"]


def session_path(template: str, session_id: str) -> str:
    """A per-session path with the id quoted (ids are Parlant's, but nothing here trusts it)."""
    return template.format(session_id=quote(session_id, safe=""))


class ReplyHeld(Exception):
    """An `ai` reply the agent did not send: it breaks `rule` (agent/ai_reply_rules.py)."""

    def __init__(self, rule: str, why: str) -> None:
        super().__init__(f"not sent in the agent's name: {why}")
        self.rule = rule
        self.why = why


class RouteMissing(ApiError):
    """The agent has no such route (404): an agent whose store has no open-handoff index or
    escalation feed (Parlant's own store), or one older than the route. An ApiError, so code
    that handles any refusal of the agent handles this one too."""

    def __init__(self, what: str) -> None:
        super().__init__(status_code=404, body={"detail": f"no route {what}"})


# -- body rules -----------------------------------------------------------------------------


def reply_body(
    as_: ReplyAs,
    message: str,
    operator: Mapping[str, str],
    metadata: Mapping[str, Any] | None = None,
    override: str | None = None,
) -> dict[str, Any]:
    """The body of `POST /escalations/{id}/replies`."""
    return {
        "as": as_,
        "message": message,
        "operator": dict(operator),
        "metadata": dict(metadata or {}),
        **({"override": override} if override else {}),
    }


def reply_body_problem(body: Any) -> str | None:
    """Pure: what is wrong with a reply body, in words; None when nothing is. The route answers
    422 with these words."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("as") not in ("human", "ai"):
        return '"as" must be "human" or "ai"'
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        return '"message" must be a non-empty string'
    if len(message) > MESSAGE_LIMIT:
        return f'"message" is longer than {MESSAGE_LIMIT:,} characters'
    operator = body.get("operator")
    if not isinstance(operator, dict) or not all(
        isinstance(operator.get(k), str) and operator.get(k) for k in ("id", "name", "origin")
    ):
        return '"operator" must have non-empty "id", "name" and "origin"'
    if not isinstance(body.get("metadata", {}), dict):
        return '"metadata" must be an object'
    override = body.get("override")
    if override is not None and (body["as"] != "ai" or not isinstance(override, str)):
        return '"override" is the name of the rule an "ai" reply is sent despite'
    return None


class BadParameter(ValueError):
    pass


def whole_parameter(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """Pure: a whole-number query parameter within [low, high]; BadParameter says the rule."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


# -- requests and answers, the same for the sync and the async client -----------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None


def open_call(
    closed_since: str | None = None, changed_after: int | None = None, etag: str | None = None
) -> Call:
    params = {"closed_since": closed_since} if closed_since else {}
    if changed_after is not None:
        params["changed_after"] = str(changed_after)
    return Call("GET", OPEN_PATH, params, headers={"If-None-Match": etag} if etag else {})


@dataclass(frozen=True)
class HistoryCursor:
    """Where the next page of closed handoffs starts (the route's `next`)."""

    before_closed_at: str
    before_id: str


def history_call(limit: int = HISTORY_PAGE, before: HistoryCursor | None = None) -> Call:
    if not 1 <= limit <= MAX_PAGE:
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_PAGE}")
    params = {"limit": str(limit)}
    if before is not None:
        params |= {"before_closed_at": before.before_closed_at, "before_id": before.before_id}
    return Call("GET", HISTORY_PATH, params)


def feed_call(after: int, limit: int = FEED_PAGE, wait_s: int = 0) -> Call:
    if not 1 <= limit <= MAX_PAGE or not 0 <= wait_s <= MAX_WAIT_S or after < 0:
        raise BadParameter(
            f"after >= 0, limit from 1 to {MAX_PAGE} and wait_s from 0 to {MAX_WAIT_S}"
        )
    return Call(
        "GET",
        FEED_PATH,
        {"after": str(after), "limit": str(limit), "wait_for_data": str(wait_s)},
        timeout=httpx.Timeout(wait_s + FEED_ANSWER_S, connect=5.0),
    )


def labelled_call(label: str) -> Call:
    return Call("GET", "/sessions", {"labels": label})


def reply_call(session_id: str, body: dict[str, Any]) -> Call:
    problem = reply_body_problem(body)
    if problem:
        # Refused here as the route would refuse it (the same words, the same 422), without
        # the round trip: callers handle a refusal one way wherever it was made.
        raise ApiError(status_code=422, body={"detail": problem})
    return Call("POST", session_path(REPLIES_PATH, session_id), json=body)


@dataclass(frozen=True)
class ListingAnswer:
    """`GET /escalations/open`: the raw JSON (`{"version": V, "items": [...]}`, built by the
    database; the bridge parses it in slices) and its ETag; `body` is None on a 304."""

    body: bytes | None
    etag: str | None


@dataclass(frozen=True)
class HistoryPage:
    items: list[dict[str, Any]]
    next: HistoryCursor | None


@dataclass(frozen=True)
class Draft:
    message: str
    tools: tuple[str, ...]


def _refused(response: httpx.Response) -> ApiError:
    # As the generated client reports a refusal, so callers handle both one way.
    return ApiError(status_code=response.status_code, body=response.text)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code == 404:
        raise RouteMissing(f"{response.request.method} {response.request.url.path}")
    if response.status_code >= 400:
        raise _refused(response)
    return response


def read_open(response: httpx.Response) -> ListingAnswer:
    if response.status_code == 304:
        return ListingAnswer(None, response.headers.get("etag"))
    return ListingAnswer(_checked(response).content, response.headers.get("etag"))


def read_history(response: httpx.Response) -> HistoryPage:
    payload = _checked(response).json()
    following = payload.get("next")
    cursor = (
        HistoryCursor(str(following["before_closed_at"]), str(following["before_id"]))
        if isinstance(following, dict)
        and following.get("before_closed_at")
        and following.get("before_id")
        else None
    )
    return HistoryPage(list(payload.get("items") or []), cursor)


def read_feed(response: httpx.Response) -> dict[str, Any]:
    """The feed's answer as JSON: `{"events": [...], "next": N, "head": H}`."""
    payload = _checked(response).json()
    if not isinstance(payload, dict):
        raise ValueError("the escalation feed's answer is not a JSON object")
    return payload


def read_reply(session_id: str, response: httpx.Response) -> Event:
    if response.status_code == 409:
        raise HandoffNotActive(session_id, response.json().get("status"))
    if response.status_code == 422 and isinstance(held := response.json().get("held"), dict):
        raise ReplyHeld(str(held.get("rule", "")), str(held.get("why", "")))
    if response.status_code >= 400:
        raise _refused(response)
    return parse_obj_as(Event, response.json())


def read_turn(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise _refused(response)


def read_draft(response: httpx.Response) -> Draft | None:
    """None when the agent gave no draft (204) or the session is not with a person (409)."""
    if response.status_code in (204, 409):
        return None
    payload = _checked(response).json()
    return Draft(str(payload.get("draft") or ""), tuple(str(t) for t in payload.get("tools") or ()))


def read_backlog(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """Every live bridge replica's figures per channel (`waiting`, `oldest_wait_seconds`,
    `behind`)."""
    channels = _checked(response).json().get("channels") or {}
    return {str(c): dict(f) for c, f in channels.items() if isinstance(f, dict)}


def read_usage(response: httpx.Response) -> list[dict[str, Any]]:
    return [dict(i) for i in _checked(response).json().get("items") or []]


# -- the clients ------------------------------------------------------------------------------


class AsyncOperatorApi:
    """The operator routes over an async httpx client whose headers carry the operator token."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def _send(
        self, call: Call, timeout: float | httpx.Timeout | None = None
    ) -> httpx.Response:
        extra: dict[str, Any] = {}
        if timeout is not None or call.timeout is not None:
            extra["timeout"] = timeout if timeout is not None else call.timeout
        return await self._http.request(
            call.method,
            self._base + call.path,
            params=call.params or None,
            json=call.json,
            headers=call.headers or None,
            **extra,
        )

    async def open_listing(
        self,
        closed_since: str | None = None,
        changed_after: int | None = None,
        etag: str | None = None,
    ) -> ListingAnswer:
        return read_open(await self._send(open_call(closed_since, changed_after, etag)))

    async def history(
        self, limit: int = HISTORY_PAGE, before: HistoryCursor | None = None
    ) -> HistoryPage:
        return read_history(await self._send(history_call(limit, before)))

    async def feed(self, after: int, limit: int = FEED_PAGE, wait_s: int = 0) -> dict[str, Any]:
        return read_feed(await self._send(feed_call(after, limit, wait_s)))

    async def reply(self, session_id: str, body: dict[str, Any]) -> Event:
        return read_reply(session_id, await self._send(reply_call(session_id, body)))

    async def start_turn(self, session_id: str) -> None:
        read_turn(await self._send(Call("POST", session_path(TURN_PATH, session_id))))

    async def draft(self, session_id: str, timeout_s: float) -> Draft | None:
        call = Call("POST", session_path(DRAFT_PATH, session_id))
        return read_draft(await self._send(call, timeout_s))

    async def labelled_sessions(self, label: str) -> bytes:
        """Parlant's own list of the sessions with `label`, raw: the fallback of the open listing
        on a store without the index (no `limit`: Parlant 3.3 filters labels after paging, so a
        page could come back short)."""
        return _checked(await self._send(labelled_call(label))).content

    async def report_backlog(self, report: dict[str, Any], timeout_s: float) -> None:
        await self._send_checked(Call("PUT", SLACK_BACKLOG_PATH, json=report), timeout_s)

    async def _send_checked(self, call: Call, timeout_s: float) -> None:
        _checked(await self._send(call, timeout_s))


class OperatorApi:
    """The same routes over a sync httpx client (the dashboard's)."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    def _send(self, call: Call) -> httpx.Response:
        extra: dict[str, Any] = {"timeout": call.timeout} if call.timeout is not None else {}
        return self._http.request(
            call.method,
            self._base + call.path,
            params=call.params or None,
            json=call.json,
            headers=call.headers or None,
            **extra,
        )

    def open_listing(
        self, closed_since: str | None = None, changed_after: int | None = None
    ) -> ListingAnswer:
        return read_open(self._send(open_call(closed_since, changed_after)))

    def history(
        self, limit: int = HISTORY_PAGE, before: HistoryCursor | None = None
    ) -> HistoryPage:
        return read_history(self._send(history_call(limit, before)))

    def feed(self, after: int, limit: int = FEED_PAGE, wait_s: int = 0) -> dict[str, Any]:
        return read_feed(self._send(feed_call(after, limit, wait_s)))

    def labelled_sessions(self, label: str) -> bytes:
        return _checked(self._send(labelled_call(label))).content

    def slack_backlog(self) -> dict[str, dict[str, Any]]:
        return read_backlog(self._send(Call("GET", SLACK_BACKLOG_PATH)))

    def llm_usage(self, since: str) -> list[dict[str, Any]]:
        return read_usage(self._send(Call("GET", LLM_USAGE_PATH, {"since": since})))


class AsyncOperatorClient(AsyncParlantClient):
    """Parlant's async client with the operator routes beside it (`.operator`), on one
    connection pool: what the operator actions (handoff/actions.py) are given."""

    def __init__(
        self,
        *,
        base_url: str,
        httpx_client: httpx.AsyncClient | None = None,
        timeout: float | None = None,
    ) -> None:
        http = httpx_client or httpx.AsyncClient(timeout=60.0 if timeout is None else timeout)
        super().__init__(base_url=base_url, httpx_client=http, timeout=timeout)
        self.operator = AsyncOperatorApi(http, base_url)


class OperatorClient(ParlantClient):
    """Parlant's sync client with the operator routes beside it (`.operator`)."""

    def __init__(
        self,
        *,
        base_url: str,
        httpx_client: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        http = httpx_client or httpx.Client(timeout=60.0 if timeout is None else timeout)
        super().__init__(base_url=base_url, httpx_client=http, timeout=timeout)
        self.operator = OperatorApi(http, base_url)
