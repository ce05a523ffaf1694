"""A stateful fake Slack: the Web API over HTTP and Socket Mode over a WebSocket, on 127.0.0.1.

No machine here reaches Slack, so tests run real slack_sdk clients and Bolt apps against this server.
It keeps channels, users, messages (threads, metadata, reactions), ephemeral messages, views and a log
of every call; answers like Slack does (`ok`/`error` JSON with HTTP 200, the `x-oauth-scopes` header,
429 + Retry-After); and injects faults: rate limits, errors, lost answers and outages.

State belongs to the event loop that started the fake. Async tests use it directly
(`async with FakeSlack() as fake: ...`); sync tests use `FakeSlack().run_in_thread()`, whose handle runs
every read and change on that loop.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar

import emoji
from aiohttp import WSMsgType, web

from .slack_block_limits import (
    MAX_MESSAGE_BLOCKS,
    blocks_problems,
    element_problems,
    view_problems,
)
from .slack_rate_limits import RateLimits
from .slack_signing import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    block_actions_payload,
    block_suggestion_payload,
    event_callback,
    message_action_payload,
    message_event,
    new_ts,
    trigger_issued_at,
    ts_key,
    view_submission_payload,
)

T = TypeVar("T")
P = ParamSpec("P")

HOST = "127.0.0.1"
DEFAULT_SCOPES = (
    "chat:write",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "users:read",
    "reactions:write",
    "metadata.message:read",
    "commands",
)
APP_TOKEN_SCOPES = ("connections:write",)
MAX_TEXT = 40_000  # Slack truncates longer message text rather than refusing it
MAX_BLOCKS = MAX_MESSAGE_BLOCKS
# A trigger_id works once, within 3 seconds of the click that made it (views.open's contract).
TRIGGER_LIFETIME_S = 3.0
# An external_select asks the app for options once this many characters are typed, unless the
# element sets min_query_length (Block Kit reference, external select).
DEFAULT_MIN_QUERY_LENGTH = 3
SELECT_TYPES = ("static_select", "external_select")

# Slack's published contract per method (tests/fakes/slack_spec/README.md): verb, encodings, arguments.
SPEC = json.loads((Path(__file__).parent / "slack_spec" / "web_api_methods.json").read_text())
JSON = "application/json"

TokenKind = Literal["bot", "app"]
Encoding = Literal["query", "form", "json"]
FaultKind = Literal["slow", "rate_limit", "fail", "drop"]


# ---------------------------------------------------------------------------------------------
# State and records


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    members: list[str]
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def history_scope(self) -> str:
        return "groups:history" if self.is_private else "channels:history"

    @property
    def read_scope(self) -> str:
        return "groups:read" if self.is_private else "channels:read"


@dataclass
class User:
    id: str
    name: str
    real_name: str
    display_name: str
    is_bot: bool = False
    # Slack's guest accounts: multi-channel (is_restricted) or single-channel (is_ultra_restricted).
    guest: Literal["multi", "single"] | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_restricted": self.guest is not None,
            "is_ultra_restricted": self.guest == "single",
            "tz": "Europe/London",
            "profile": {
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.display_name,
                "display_name_normalized": self.display_name,
                "team": TEAM_ID,
            },
        }


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str | None
    bot_id: str | None = None
    thread_ts: str | None = None  # set on replies only; a root shows thread_ts once it has replies
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    edited_ts: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class EphemeralMessage:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None


@dataclass
class RecordedCall:
    """One Web API request as received. status and response are None when the answer was dropped."""

    method: str
    params: dict[str, Any]
    token: str | None
    time: float
    status: int | None
    response: dict[str, Any] | None
    # How the arguments came: "json" for a JSON body (read only by methods that consume JSON),
    # "form" for a form body, "query" for a query string alone.
    encoding: Encoding = "query"
    ignored: tuple[str, ...] = ()  # arguments sent in a JSON body the method does not read


@dataclass
class Ack:
    """A Socket Mode acknowledgement: the envelope it answered and the optional response payload."""

    envelope: dict[str, Any]
    payload: dict[str, Any] | None
    time: float


class AckTimeout(TimeoutError):
    """No acknowledgement arrived in time; `envelope` can be passed to FakeSlack.redeliver()."""

    def __init__(self, envelope: dict[str, Any], timeout: float) -> None:
        super().__init__(
            f"envelope {envelope['envelope_id']} ({envelope['type']}) not acked within {timeout}s"
        )
        self.envelope = envelope


@dataclass
class _Fault:
    kind: FaultKind
    method: str | None  # None: every method
    remaining: int | None  # None: until clear_faults()
    # Only calls whose `text` contains this; None: every call of the method.
    text: str | None = None
    error: str = "internal_error"
    http_status: int = 200
    retry_after: int = 1
    seconds: float = 0.0


@dataclass
class _ResponseTarget:
    channel: str
    message_ts: str | None
    user: str | None


class _ApiError(Exception):
    """A Slack error answer: HTTP 200 with ok=false, the error code and any extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}


def _invalid_arguments(*problems: str) -> _ApiError:
    return _ApiError("invalid_arguments", response_metadata={"messages": list(problems)})


# ---------------------------------------------------------------------------------------------
# Request parsing


@dataclass
class _Request:
    """A Web API request's arguments as Slack reads them for its method."""

    params: dict[str, Any] | None  # None: a JSON body that does not parse
    encoding: Encoding
    body_token: str | None  # `token` as a query or form argument (never read from a JSON body)
    ignored: tuple[str, ...] = ()


async def _read_request(request: web.Request, method: str) -> _Request:
    """Query and form arguments, and a JSON body's only for methods whose published contract
    consumes application/json: Slack does not see the arguments of a read method (e.g.
    conversations.replies, users.info) sent as JSON, so neither does the fake."""
    params: dict[str, Any] = dict(request.query)
    token = params.pop("token", None)
    if not request.body_exists:
        return _Request(params, "query", token)
    if request.content_type == JSON:
        try:
            body = await request.json()
        except ValueError:
            return _Request(None, "json", token)
        if not isinstance(body, dict):
            return _Request(None, "json", token)
        if JSON not in SPEC.get(method, {}).get("consumes", [JSON]):
            return _Request(params, "json", token, ignored=tuple(sorted(body)))
        body.pop("token", None)  # JSON callers must send the token in the Authorization header
        params.update(body)
        return _Request(params, "json", token)
    form = await request.post()
    params.update((key, value) for key, value in form.items() if isinstance(value, str))
    token = params.pop("token", token)
    return _Request(params, "form", token)


def _missing_required(method: str, params: dict[str, Any]) -> list[str]:
    """The arguments Slack's published contract marks required that the call left out."""
    return [
        f"[ERROR] missing required field: {argument['name']}"
        for argument in SPEC.get(method, {}).get("parameters", [])
        if argument["required"] and params.get(argument["name"]) in (None, "")
    ]


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


_FORMAT_ERRORS = {"blocks": "invalid_blocks_format", "metadata": "invalid_metadata_format"}


class _Params:
    """Typed access to call arguments; form values are strings, JSON values keep their types."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise _invalid_arguments(f"[ERROR] missing required field: {name}")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is True or str(value).lower() in ("1", "true")

    def integer(self, name: str, default: int) -> int:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        try:
            return int(str(value))
        except (TypeError, ValueError):
            raise _invalid_arguments(f"[ERROR] must be an integer [json-pointer:/{name}]") from None

    def structured(self, name: str) -> Any:
        """A JSON-valued argument (blocks, metadata, view): an object in JSON bodies, a string in forms."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(_FORMAT_ERRORS.get(name, "invalid_arguments")) from None


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, offset = base64.b64decode(cursor).decode().partition(":")
        if kind == "offset":
            return int(offset)
    except ValueError:
        pass
    raise _ApiError("invalid_cursor")


def _page(
    items: list[T], params: _Params, default_limit: int, cap: int | None = None
) -> tuple[list[T], str]:
    """Slack's cursor pagination: a page of `limit` items (at most `cap`, where Slack caps it)
    and the next cursor ("" on the last page)."""
    limit = params.integer("limit", default_limit) or default_limit
    if cap is not None:
        limit = min(limit, cap)
    start = _decode_cursor(params.get("cursor"))
    end = start + limit
    return items[start:end], _encode_cursor(end) if end < len(items) else ""


def _in_window(ts: str, params: _Params) -> bool:
    """conversations.history/replies filtering by `oldest`/`latest` (exclusive unless `inclusive`)."""
    key, inclusive = ts_key(ts), params.flag("inclusive")
    oldest, latest = params.get("oldest"), params.get("latest")
    if oldest is not None and (key < ts_key(oldest) or (key == ts_key(oldest) and not inclusive)):
        return False
    return latest is None or key < ts_key(latest) or (key == ts_key(latest) and inclusive)


# ---------------------------------------------------------------------------------------------
# Method registry

_Handler = Callable[["FakeSlack", _Params], dict[str, Any]]
_HANDLERS: dict[str, tuple[_Handler, TokenKind]] = {}


def _api(method: str, token: TokenKind = "bot") -> Callable[[_Handler], _Handler]:
    """Registers a Web API method; the handler returns the fields after "ok": true or raises _ApiError."""

    def register(handler: _Handler) -> _Handler:
        if method not in SPEC:
            raise ValueError(f"{method} is not in the vendored Slack contract (slack_spec/)")
        _HANDLERS[method] = (handler, token)
        return handler

    return register


# ---------------------------------------------------------------------------------------------
# The fake


class FakeSlack:
    """One fake workspace with one bot (see the module docstring)."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-1-fake-app-token",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        spread_events: bool = False,
        limits: RateLimits | None = None,
    ) -> None:
        """`spread_events`: with several Socket Mode connections open (several app replicas),
        each envelope goes to the next connection in turn, as Slack spreads events over up to 10
        connections; each still reaches exactly one. Off, it goes to the newest connection, which
        keeps one-client tests deterministic across reconnects.

        `limits`: Slack's published rate limits (tests/fakes/slack_rate_limits.py), on unless a
        test passes `RateLimits(enabled=False)`; over a limit a call is answered 429 with
        Retry-After and has no effect."""
        # Bolt decides "bot or user token" by the xoxb- prefix; a mismatch silently breaks self-event filtering.
        if not bot_token.startswith("xoxb-") or not app_token.startswith("xapp-"):
            raise ValueError("bot_token must start with xoxb- and app_token with xapp-")
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes: list[str] = list(
            scopes
        )  # reported in x-oauth-scopes; change it to test missing_scope
        # False: a workspace where message metadata does not read back (reads return messages
        # without it), the case `python -m slack_bridge check` must catch.
        self.metadata_readable = True
        self.team_id, self.app_id, self.bot_user_id, self.bot_id = (
            TEAM_ID,
            APP_ID,
            BOT_USER_ID,
            BOT_ID,
        )

        self._ids = itertools.count(1)
        self._channels: dict[str, Channel] = {}
        self._users: dict[str, User] = {
            BOT_USER_ID: User(BOT_USER_ID, "fake-bot", "Fake Bot", "Fake Bot", is_bot=True)
        }
        self._messages: dict[str, list[Message]] = {}
        self._ephemeral: list[EphemeralMessage] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._calls: list[RecordedCall] = []
        self._faults: list[_Fault] = []
        self.limits = limits if limits is not None else RateLimits()
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._used_triggers: set[str] = set()
        # The app's shortcuts as its manifest declares them (features.shortcuts): callback_id
        # -> "message" or "global". Slack shows only these, and only with the commands scope.
        self.shortcuts: dict[str, str] = {}
        # What each external_select last showed the user: (view_id, action_id) -> options.
        self._shown_options: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Options answers Slack would not show (over a limit, not an options list), with why.
        self.refused_options: list[tuple[str, list[str]]] = []

        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connects = 0
        self._spread_events = spread_events
        self._envelopes_sent = itertools.count()
        self._deliveries: list[dict[str, Any]] = []
        self._acks: list[Ack] = []
        self._pending_acks: dict[str, asyncio.Future[Ack]] = {}
        # The connection each envelope went to, so a retry can go to another one.
        self._delivered_on: dict[str, web.WebSocketResponse] = {}

        self._change = asyncio.Event()  # replaced on every change; wait_for() sleeps on it
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response/{key}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self._site is not None:
            await self._site.stop()
            self._site = None
        # Open WebSockets would otherwise hold runner.cleanup() for its whole shutdown timeout.
        self._abort_connections()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def run_in_thread(self) -> FakeSlackThread:
        """Starts this fake on a new event loop in a daemon thread, for synchronous tests."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-slack", daemon=True)
        thread.start()
        handle = FakeSlackThread(self, loop, thread)
        try:
            handle.run(self.start())
        except BaseException:
            handle.close_loop()
            raise
        return handle

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """For AsyncWebClient(base_url=...)."""
        return f"{self.base_url}/api/"

    @property
    def is_up(self) -> bool:
        return self._site is not None

    async def go_down(self) -> None:
        """An outage: stop listening and abort every open connection (HTTP keep-alive and Socket Mode).

        Clients then get connection errors (refused, or reset mid-request), not HTTP answers.
        """
        if self._site is None:
            raise RuntimeError("FakeSlack is already down")
        await self._site.stop()
        self._site = None
        sockets = list(self._sockets)
        self._abort_connections()
        await self._sockets_gone(sockets)
        self._changed()

    async def come_up(self) -> None:
        """Ends an outage: listen again on the same port, so clients' base_url stays valid."""
        if self._site is not None:
            raise RuntimeError("FakeSlack is already up")
        await self._listen()
        self._changed()

    async def _listen(self) -> None:
        assert self._runner is not None, "start() first"
        self._site = web.TCPSite(self._runner, HOST, self._port)
        await self._site.start()
        self._port = self._runner.addresses[0][1]

    def _abort_connections(self) -> None:
        assert self._runner is not None and self._runner.server is not None
        for connection in self._runner.server.connections:
            if connection.transport is not None:
                connection.transport.abort()

    # -- workspace setup ------------------------------------------------------------------------

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> str:
        """Creates a channel; the bot is a member unless told otherwise (Slack: not_in_channel)."""
        channel_id = channel_id or f"{'G' if is_private else 'C'}0FAKE{next(self._ids):04d}"
        member_ids = ([BOT_USER_ID] if bot_is_member else []) + [
            m for m in members if m != BOT_USER_ID
        ]
        self._channels[channel_id] = Channel(channel_id, name.lstrip("#"), is_private, member_ids)
        self._messages[channel_id] = []
        self._changed()
        return channel_id

    def join(self, channel: str, user: str) -> None:
        """`user` joins `channel` (as a guest invited to it would)."""
        members = self._find_channel(channel).members
        if user not in members:
            members.append(user)
            self._changed()

    def add_user(
        self,
        name: str,
        *,
        user_id: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        is_bot: bool = False,
        guest: Literal["multi", "single"] | None = None,
    ) -> str:
        user_id = user_id or f"U0FAKE{next(self._ids):04d}"
        self._users[user_id] = User(
            user_id,
            name,
            real_name if real_name is not None else name,
            display_name or "",
            is_bot,
            guest,
        )
        self._changed()
        return user_id

    def add_user_message(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        encoded: bool = False,
    ) -> dict[str, Any]:
        """Stores a message a human posted and returns its `message` event, ready for push_event().

        `text` is what the person typed; Slack encodes `&`, `<` and `>` in it as entities (pass
        `encoded=True` for text already in Slack's format, e.g. with `<@U123>` mentions). Slack's
        clients refuse to send more than MAX_TEXT characters.
        """
        if len(text) > MAX_TEXT:
            raise ValueError(
                f"msg_too_long: Slack does not send messages over {MAX_TEXT} characters"
            )
        if not encoded:
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        chan = self._find_channel(channel)
        root_ts = self._thread_root(chan, thread_ts)
        message = Message(chan.id, new_ts(), text, user, thread_ts=root_ts, blocks=blocks)
        self._messages[chan.id].append(message)
        self._changed()
        parent = self._find_message(chan, root_ts) if root_ts else None
        return message_event(
            channel=chan.id,
            user=user,
            text=text,
            ts=message.ts,
            thread_ts=root_ts,
            parent_user_id=parent.user if parent else None,
            blocks=blocks,
            channel_type="group" if chan.is_private else "channel",
        )

    # -- assertions -----------------------------------------------------------------------------

    def messages(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        """A channel's messages oldest first (replies included); with thread_ts, that thread incl. its root."""
        stored = self._messages[self._find_channel(channel).id]
        if thread_ts is None:
            return list(stored)
        return [m for m in stored if thread_ts in (m.ts, m.thread_ts)]

    def users(self) -> list[User]:
        """Every account of the workspace, the app's bot user first."""
        return list(self._users.values())

    def ephemeral_messages(self, channel: str | None = None) -> list[EphemeralMessage]:
        channel_id = self._find_channel(channel).id if channel else None
        return [m for m in self._ephemeral if channel_id in (None, m.channel)]

    def views(self) -> list[dict[str, Any]]:
        return list(self._views.values())

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every Web API request received (incl. faulted ones), oldest first; response_url posts as "response_url"."""
        return [call for call in self._calls if method in (None, call.method)]

    def deliveries(self) -> list[dict[str, Any]]:
        """Every Socket Mode envelope sent, oldest first."""
        return list(self._deliveries)

    def acks(self) -> list[Ack]:
        return list(self._acks)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    @property
    def socket_connects(self) -> int:
        """Socket Mode connections accepted so far; grows by one on every reconnect."""
        return self._socket_connects

    async def wait_for(self, predicate: Callable[[], T], timeout: float | None = 5.0) -> T:
        """Waits until predicate() is truthy, re-checking after every change to the fake; returns its value."""
        try:
            async with asyncio.timeout(timeout):
                while not (result := predicate()):
                    change = self._change
                    await change.wait()
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout}s") from None
        return result

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    # -- fault injection ------------------------------------------------------------------------

    def rate_limit(
        self, method: str | None = None, *, times: int | None = 1, retry_after: int = 1
    ) -> None:
        """The next `times` matching calls (None: until clear_faults) get HTTP 429 with Retry-After."""
        self._faults.append(
            _Fault("rate_limit", method, times, error="ratelimited", retry_after=retry_after)
        )

    def fail(
        self,
        method: str | None = None,
        *,
        error: str = "internal_error",
        times: int | None = None,
        http_status: int = 200,
    ) -> None:
        """Matching calls fail without effect: ok=false `error`, with HTTP 200 or e.g. http_status=503."""
        self._faults.append(_Fault("fail", method, times, error=error, http_status=http_status))

    def drop_response(self, method: str, *, times: int = 1, text: str | None = None) -> None:
        """The next `times` calls of `method` (with `text`: whose text contains it) take effect,
        then the connection is aborted before any answer."""
        self._faults.append(_Fault("drop", method, times, text=text))

    def slow_response(
        self, method: str, seconds: float, *, times: int = 1, text: str | None = None
    ) -> None:
        """The next `times` calls of `method` (with `text`: whose text contains it) are
        answered `seconds` late (a slow network, a busy Slack), with their effect as usual."""
        self._faults.append(_Fault("slow", method, times, text=text, seconds=seconds))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(
        self, kinds: Collection[str], method: str, params: dict[str, Any] | None = None
    ) -> _Fault | None:
        text = str((params or {}).get("text") or "")
        for fault in self._faults:
            if (
                fault.kind in kinds
                and fault.method in (None, method)
                and (fault.text is None or fault.text in text)
            ):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- Web API dispatch -----------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        received = time.time()
        method = request.match_info["method"]
        read = await _read_request(request, method)
        token = _bearer_token(request) or read.body_token
        slow = self._take_fault(("slow",), method, read.params)
        if slow is not None:
            await asyncio.sleep(slow.seconds)
        status, body, headers = self._answer(method, token, read.params)
        # A call refused for its pace had no effect: an answer to lose is a later call's.
        dropped = status != 429 and self._take_fault(("drop",), method, read.params) is not None
        self._record(
            RecordedCall(
                method,
                read.params or {},
                token,
                received,
                None if dropped else status,
                None if dropped else body,
                read.encoding,
                read.ignored,
            )
        )
        if dropped and request.transport is not None:
            request.transport.abort()  # the effect happened; the answer is lost, as on a network cut
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, token: str | None, params: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        entry = _HANDLERS.get(method)
        if entry is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        handler, token_kind = entry
        auth_error = self._auth_error(token, token_kind)
        if auth_error:
            return 200, {"ok": False, "error": auth_error}, {}
        headers = {
            "x-oauth-scopes": ",".join(self.scopes if token_kind == "bot" else APP_TOKEN_SCOPES)
        }
        fault = self._take_fault(("rate_limit", "fail"), method, params)
        if fault is not None:
            return self._fault_answer(fault, headers)
        if params is None:
            return 200, {"ok": False, "error": "invalid_json"}, headers
        retry_after = self.limits.retry_after(method, _Params(params).get("channel"))
        if retry_after:
            return (
                429,
                {"ok": False, "error": "ratelimited"},
                {
                    **headers,
                    "Retry-After": str(retry_after),
                },
            )
        missing = _missing_required(method, params)
        if missing:
            return 200, _invalid_arguments(*missing).body, headers
        try:
            return 200, {"ok": True, **handler(self, _Params(params))}, headers
        except _ApiError as error:
            return 200, error.body, headers

    @staticmethod
    def _fault_answer(
        fault: _Fault, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = {"ok": False, "error": fault.error}
        if fault.kind == "rate_limit":
            return 429, body, {**headers, "Retry-After": str(fault.retry_after)}
        return fault.http_status, body, headers

    def _auth_error(self, token: str | None, kind: TokenKind) -> str | None:
        if not token:
            return "not_authed"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        return (
            None
            if token == (self.bot_token if kind == "bot" else self.app_token)
            else "not_allowed_token_type"
        )

    def _record(self, call: RecordedCall) -> None:
        self._calls.append(call)
        self._changed()

    def _require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _ApiError("missing_scope", needed=scope, provided=",".join(self.scopes))

    # -- lookups --------------------------------------------------------------------------------

    def _find_channel(self, ref: str) -> Channel:
        """By ID, or by name with or without '#'; KeyError for unknown (tests' own mistakes)."""
        if ref in self._channels:
            return self._channels[ref]
        for channel in self._channels.values():
            if channel.name == ref.lstrip("#"):
                return channel
        raise KeyError(f"no channel {ref!r}")

    def _channel(self, params: _Params, name: str = "channel") -> Channel:
        ref = params.get(name)
        try:
            return self._find_channel(ref or "")
        except KeyError:
            raise _ApiError("channel_not_found") from None

    def _member_channel(self, params: _Params) -> Channel:
        channel = self._channel(params)
        if BOT_USER_ID not in channel.members:
            raise _ApiError("not_in_channel")
        return channel

    def _find_message(self, channel: Channel, ts: str) -> Message | None:
        return next((m for m in self._messages[channel.id] if m.ts == ts), None)

    def _message(self, channel: Channel, ts: str | None) -> Message:
        message = self._find_message(channel, ts) if ts else None
        if message is None:
            raise _ApiError("message_not_found")
        return message

    def _thread_root(self, channel: Channel, thread_ts: str | None) -> str | None:
        """The root ts a reply belongs to; a reply's ts re-roots to its parent, as Slack does."""
        if thread_ts is None:
            return None
        parent = self._find_message(channel, thread_ts)
        if parent is None:
            raise _ApiError("thread_not_found")
        return parent.thread_ts or parent.ts

    def _replies(self, message: Message) -> list[Message]:
        return [m for m in self._messages[message.channel] if m.thread_ts == message.ts]

    def _message_json(self, message: Message, include_metadata: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "ts": message.ts,
            "text": message.text,
            "team": TEAM_ID,
        }
        if message.user:
            data["user"] = message.user
        if message.bot_id:
            data.update(bot_id=message.bot_id, app_id=APP_ID)
        if message.blocks is not None:
            data["blocks"] = message.blocks
        if message.thread_ts:
            parent = self._find_message(self._channels[message.channel], message.thread_ts)
            data.update(thread_ts=message.thread_ts, parent_user_id=parent.user if parent else None)
        if message.reply_broadcast:
            data["subtype"] = "thread_broadcast"
        data.update(self._thread_summary(message))
        if message.edited_ts:
            data["edited"] = {"user": message.user, "ts": message.edited_ts}
        if message.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in message.reactions.items()
            ]
        if include_metadata and message.metadata and self.metadata_readable:
            data["metadata"] = message.metadata
        return data

    def _thread_summary(self, message: Message) -> dict[str, Any]:
        replies = self._replies(message)
        if not replies:
            return {}
        users = list(dict.fromkeys(r.user for r in replies if r.user))
        return {
            "thread_ts": message.ts,
            "reply_count": len(replies),
            "reply_users": users,
            "reply_users_count": len(users),
            "latest_reply": replies[-1].ts,
        }

    # -- message content ------------------------------------------------------------------------

    @staticmethod
    def _blocks(params: _Params) -> list[dict[str, Any]] | None:
        blocks: list[dict[str, Any]] | None = params.structured("blocks")
        if blocks is None:
            return None
        problems = blocks_problems(blocks)
        if problems:
            raise _ApiError("invalid_blocks", response_metadata={"messages": problems})
        return blocks

    @staticmethod
    def _metadata(params: _Params) -> dict[str, Any] | None:
        metadata = params.structured("metadata")
        if metadata is None:
            return None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}

    def _content(self, params: _Params) -> tuple[str, list[dict[str, Any]] | None]:
        text, blocks = params.get("text") or "", self._blocks(params)
        if not text and not blocks and not params.get("attachments"):
            raise _ApiError("no_text")
        return text[:MAX_TEXT], blocks

    def _post_as_bot(self, channel: Channel, params: _Params) -> Message:
        text, blocks = self._content(params)
        thread_ts = self._thread_root(channel, params.get("thread_ts"))
        message = Message(
            channel.id,
            new_ts(),
            text,
            BOT_USER_ID,
            bot_id=BOT_ID,
            thread_ts=thread_ts,
            blocks=blocks,
            metadata=self._metadata(params),
            reply_broadcast=thread_ts is not None and params.flag("reply_broadcast"),
        )
        self._messages[channel.id].append(message)
        return message

    # -- Web API methods ------------------------------------------------------------------------

    @_api("auth.test")
    def _auth_test(self, params: _Params) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Fake Workspace",
            "user": self._users[BOT_USER_ID].name,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    @_api("chat.postMessage")
    def _chat_post_message(self, params: _Params) -> dict[str, Any]:
        self._require_scope("chat:write")
        message = self._post_as_bot(self._member_channel(params), params)
        return {
            "channel": message.channel,
            "ts": message.ts,
            "message": self._message_json(message, True),
        }

    @_api("chat.update")
    def _chat_update(self, params: _Params) -> dict[str, Any]:
        """Omitted text/blocks/metadata keep their values, as in Slack (blocks=[] removes blocks)."""
        self._require_scope("chat:write")
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.bot_id != BOT_ID:
            raise _ApiError("cant_update_message")
        text, blocks, metadata = params.get("text"), self._blocks(params), self._metadata(params)
        if text is None and blocks is None and metadata is None:
            raise _ApiError("no_text")
        message.text = text[:MAX_TEXT] if text is not None else message.text
        message.blocks = blocks if blocks is not None else message.blocks
        message.metadata = metadata or message.metadata
        message.edited_ts = new_ts()
        return {
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": self._message_json(message, True),
        }

    @_api("chat.delete")
    def _chat_delete(self, params: _Params) -> dict[str, Any]:
        """The bot deletes one of its own messages (a thread root only once it has no replies)."""
        self._require_scope("chat:write")
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.bot_id != BOT_ID:
            raise _ApiError("cant_delete_message")
        if self._replies(message):
            raise _ApiError("cant_delete_message")  # Slack would leave a tombstone; not modelled
        self._messages[channel.id].remove(message)
        return {"channel": channel.id, "ts": message.ts}

    @_api("chat.postEphemeral")
    def _chat_post_ephemeral(self, params: _Params) -> dict[str, Any]:
        self._require_scope("chat:write")
        channel = self._member_channel(params)
        user = params.require("user")
        if user not in channel.members:
            raise _ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        thread_ts = self._thread_root(channel, params.get("thread_ts"))
        ephemeral = EphemeralMessage(channel.id, user, new_ts(), text, blocks, thread_ts)
        self._ephemeral.append(ephemeral)
        return {"message_ts": ephemeral.ts}

    @_api("chat.getPermalink")
    def _chat_get_permalink(self, params: _Params) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._message(channel, params.get("message_ts"))
        link = (
            f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        )
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    @_api("conversations.replies")
    def _conversations_replies(self, params: _Params) -> dict[str, Any]:
        channel = self._member_channel(params)
        self._require_scope(channel.history_scope)
        ts = params.get("ts")
        found = self._find_message(channel, ts) if ts else None
        if found is None:
            raise _ApiError("thread_not_found")
        root = self._message(channel, found.thread_ts or found.ts)
        thread = [m for m in [root, *self._replies(root)] if _in_window(m.ts, params)]
        cap = self.limits.page_limit("conversations.replies")
        page, cursor = _page(thread, params, default_limit=1000, cap=cap)
        return self._messages_page(page, cursor, params)

    @_api("conversations.history")
    def _conversations_history(self, params: _Params) -> dict[str, Any]:
        channel = self._member_channel(params)
        self._require_scope(channel.history_scope)
        visible = [
            m
            for m in reversed(self._messages[channel.id])
            if (m.thread_ts is None or m.reply_broadcast) and _in_window(m.ts, params)
        ]
        cap = self.limits.page_limit("conversations.history")
        page, cursor = _page(visible, params, default_limit=100, cap=cap)
        return {**self._messages_page(page, cursor, params), "pin_count": 0}

    def _messages_page(self, page: list[Message], cursor: str, params: _Params) -> dict[str, Any]:
        include_metadata = params.flag("include_all_metadata")
        return {
            "messages": [self._message_json(m, include_metadata) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    @_api("conversations.info")
    def _conversations_info(self, params: _Params) -> dict[str, Any]:
        channel = self._channel(params)
        self._require_scope(channel.read_scope)
        info: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private,
            "is_group": False,
            "is_im": False,
            "is_private": channel.is_private,
            "is_archived": False,
            "is_member": BOT_USER_ID in channel.members,
            "created": channel.created,
        }
        if params.flag("include_num_members"):
            info["num_members"] = len(channel.members)
        return {"channel": info}

    @_api("conversations.members")
    def _conversations_members(self, params: _Params) -> dict[str, Any]:
        channel = self._channel(params)
        self._require_scope(channel.read_scope)
        page, cursor = _page(channel.members, params, default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    @_api("users.info")
    def _users_info(self, params: _Params) -> dict[str, Any]:
        self._require_scope("users:read")
        user = self._users.get(params.get("user") or "")
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user.to_api()}

    @_api("reactions.add")
    def _reactions_add(self, params: _Params) -> dict[str, Any]:
        self._require_scope("reactions:write")
        message = self._message(self._channel(params), params.get("timestamp"))
        users = message.reactions.setdefault(self._reaction_name(params), [])
        if BOT_USER_ID in users:
            raise _ApiError("already_reacted")
        users.append(BOT_USER_ID)
        return {}

    @_api("reactions.remove")
    def _reactions_remove(self, params: _Params) -> dict[str, Any]:
        self._require_scope("reactions:write")
        message = self._message(self._channel(params), params.get("timestamp"))
        name = self._reaction_name(params)
        users = message.reactions.get(name, [])
        if BOT_USER_ID not in users:
            raise _ApiError("no_reaction")
        users.remove(BOT_USER_ID)
        if not users:
            del message.reactions[name]
        return {}

    @staticmethod
    def _reaction_name(params: _Params) -> str:
        """An emoji Slack knows by this name. The fake knows the standard set under its
        GitHub/Slack short names (the `emoji` package's aliases); it refuses a few names Slack
        also accepts (e.g. large_green_circle) rather than accept one Slack refuses."""
        name = params.get("name")
        if (
            name is None
            or ":" in name
            or not emoji.is_emoji(emoji.emojize(f":{name}:", language="alias"))
        ):
            raise _ApiError("invalid_name")
        return name

    @_api("views.open")
    def _views_open(self, params: _Params) -> dict[str, Any]:
        trigger = params.require("trigger_id")
        issued = trigger_issued_at(trigger)
        if issued is None:
            raise _ApiError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise _ApiError("exchanged_trigger_id")
        if time.time() - issued > TRIGGER_LIFETIME_S:
            raise _ApiError("expired_trigger_id")
        view_input = self._view_input(params)
        self._used_triggers.add(trigger)
        view_id = f"V0FAKE{next(self._ids):04d}"
        view = {
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view_input,
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "root_view_id": view_id,
            "previous_view_id": None,
            "state": {"values": {}},
            "hash": new_ts(),
        }
        self._views[view_id] = view
        return {"view": view}

    @_api("views.update")
    def _views_update(self, params: _Params) -> dict[str, Any]:
        view = self._find_view(params.get("view_id"), params.get("external_id"))
        expected_hash = params.get("hash")
        if expected_hash is not None and expected_hash != view["hash"]:
            raise _ApiError("hash_conflict")
        view.update(self._view_input(params), hash=new_ts())
        return {"view": view}

    def _find_view(self, view_id: str | None, external_id: str | None) -> dict[str, Any]:
        for view in self._views.values():
            if (view_id and view["id"] == view_id) or (
                external_id and view["external_id"] == external_id
            ):
                return view
        raise _ApiError("not_found")

    @staticmethod
    def _view_input(params: _Params) -> dict[str, Any]:
        view = params.structured("view")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise _invalid_arguments(
                "[ERROR] must provide a view with type modal or home [json-pointer:/view]"
            )
        problems = view_problems(view)
        if problems:
            raise _ApiError("invalid_arguments", response_metadata={"messages": problems})
        return view

    @_api("apps.connections.open", token="app")
    def _apps_connections_open(self, params: _Params) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"ws://{HOST}:{self.port}/socket?ticket={ticket}"}

    # -- response_url ---------------------------------------------------------------------------

    def response_url(
        self, channel: str, message_ts: str | None = None, user: str | None = None
    ) -> str:
        """A response_url served by the fake, for payloads whose listeners call respond()."""
        key = uuid.uuid4().hex
        self._response_targets[key] = _ResponseTarget(
            self._find_channel(channel).id, message_ts, user
        )
        return f"{self.base_url}/response/{key}"

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        received = time.time()
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, answer = self._response_url_answer(request.match_info["key"], body)
        self._record(
            RecordedCall(
                "response_url",
                body if isinstance(body, dict) else {},
                None,
                received,
                status,
                answer,
                "json",
            )
        )
        return web.json_response(answer, status=status)

    def _response_url_answer(self, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        target = self._response_targets.get(key)
        if target is None:
            return 404, {"ok": False, "error": "invalid_response_url"}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error": "invalid_payload"}
        try:
            self._apply_response(target, _Params(body))
        except _ApiError as error:
            return 400, error.body
        return 200, {"ok": True}

    def _apply_response(self, target: _ResponseTarget, params: _Params) -> None:
        """What Slack does with a response_url post: replace/delete the source message, or post anew."""
        channel = self._channels[target.channel]
        if params.flag("delete_original") or params.flag("replace_original"):
            original = self._message(channel, target.message_ts)
            if params.flag("delete_original"):
                self._messages[channel.id].remove(original)
                return
            original.text, original.blocks = self._content(params)
            original.edited_ts = new_ts()
        elif params.get("response_type") == "in_channel":
            self._post_as_bot(channel, params)
        else:
            text, blocks = self._content(params)
            user = target.user or ""
            self._ephemeral.append(
                EphemeralMessage(channel.id, user, new_ts(), text, blocks, params.get("thread_ts"))
            )

    def block_action(
        self, channel: str, message_ts: str, action_id: str, *, user: str
    ) -> dict[str, Any]:
        """The block_actions payload of `user` clicking `action_id` in a stored message.

        LookupError if the message has no such element, so a test cannot click a button that was never posted.
        """
        chan = self._find_channel(channel)
        message = self._find_message(chan, message_ts)
        if message is None:
            raise LookupError(f"no message {message_ts} in {channel}")
        block_id, element = self._find_element(message, action_id)
        return block_actions_payload(
            action_id=action_id,
            user=user,
            channel=chan.id,
            message=self._message_json(message, include_metadata=False),
            value=element.get("value"),
            block_id=block_id,
            response_url=self.response_url(chan.id, message_ts, user),
        )

    def ephemeral_block_action(self, ephemeral_ts: str, action_id: str) -> dict[str, Any]:
        """The block_actions payload of an ephemeral message's own user clicking `action_id`
        in it. As Slack sends it: the container says `is_ephemeral`, and there is no `message`
        (Slack does not keep ephemeral messages). LookupError as for `block_action`."""
        ephemeral = next((m for m in self._ephemeral if m.ts == ephemeral_ts), None)
        if ephemeral is None:
            raise LookupError(f"no ephemeral message {ephemeral_ts}")
        shown = Message(
            ephemeral.channel, ephemeral.ts, ephemeral.text, None, blocks=ephemeral.blocks
        )
        block_id, element = self._find_element(shown, action_id)
        payload = block_actions_payload(
            action_id=action_id,
            user=ephemeral.user,
            channel=ephemeral.channel,
            message={"ts": ephemeral.ts},
            value=element.get("value"),
            block_id=block_id,
            response_url=self.response_url(ephemeral.channel, ephemeral.ts, ephemeral.user),
        )
        del payload["message"]
        payload["container"]["is_ephemeral"] = True
        if ephemeral.thread_ts:
            payload["container"]["thread_ts"] = ephemeral.thread_ts
        return payload

    def view_submission(
        self,
        view_id: str,
        *,
        user: str,
        values: dict[str, dict[str, str]],
        selected: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The view_submission payload of `user` submitting an opened view with `values` typed in
        ({block_id: {action_id: text}}) and options chosen in its menus ({block_id: {action_id:
        option value}}).

        LookupError if no such view was opened or it has no such input, or the option is not
        one the menu showed (a static_select's own options; for an external_select, those the
        app's last options answer gave), so a test cannot submit what a user could not.
        """
        view = next((v for v in self._views.values() if v["id"] == view_id), None)
        if view is None:
            raise LookupError(f"no view {view_id} was opened")
        inputs = {
            (block.get("block_id"), (block.get("element") or {}).get("action_id")): (
                block.get("element") or {}
            )
            for block in view.get("blocks", [])
            if block.get("type") == "input"
        }
        for block_id, typed in values.items():
            for action_id in typed:
                if (block_id, action_id) not in inputs:
                    raise LookupError(f"view {view_id} has no input {block_id}/{action_id}")
        chosen: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for block_id, menus in (selected or {}).items():
            for action_id, value in menus.items():
                element = inputs.get((block_id, action_id))
                if element is None or element.get("type") not in SELECT_TYPES:
                    raise LookupError(f"view {view_id} has no menu {block_id}/{action_id}")
                shown = (
                    self._shown_options.get((view_id, action_id), [])
                    if element["type"] == "external_select"
                    else element.get("options", [])
                )
                option = next((o for o in shown if o.get("value") == value), None)
                if option is None:
                    raise LookupError(f"menu {block_id}/{action_id} never showed {value!r}")
                chosen.setdefault(block_id, {})[action_id] = (element["type"], option)
        return view_submission_payload(view=view, user=user, values=values, selected=chosen)

    def message_shortcut(
        self, channel: str, message_ts: str, callback_id: str, *, user: str
    ) -> dict[str, Any]:
        """The message_action payload of `user` choosing the app's message shortcut
        `callback_id` on a stored message. LookupError if the app declares no such message
        shortcut (`shortcuts`), lacks the `commands` scope shortcuts need, or there is no such
        message: Slack offers none of these in the message's menu."""
        if self.shortcuts.get(callback_id) != "message":
            raise LookupError(f"the app declares no message shortcut {callback_id!r}")
        if "commands" not in self.scopes:
            raise LookupError("shortcuts need the commands scope")
        chan = self._find_channel(channel)
        message = self._find_message(chan, message_ts)
        if message is None:
            raise LookupError(f"no message {message_ts} in {channel}")
        return message_action_payload(
            callback_id=callback_id,
            user=user,
            channel=chan.id,
            message=self._message_json(message, include_metadata=False),
            response_url=self.response_url(chan.id, None, user),
        )

    def block_suggestion(
        self, view_id: str, action_id: str, typed: str, *, user: str
    ) -> dict[str, Any]:
        """The options request Slack sends when `user` types `typed` into an external_select
        of an open view. LookupError if the view has no such menu; ValueError if fewer
        characters are typed than the menu's min_query_length (3 unless set): Slack asks
        nothing then."""
        view = next((v for v in self._views.values() if v["id"] == view_id), None)
        if view is None:
            raise LookupError(f"no view {view_id} was opened")
        for block in view.get("blocks", []):
            elements = [block.get("element"), block.get("accessory"), *block.get("elements", [])]
            for element in elements:
                if (
                    isinstance(element, dict)
                    and element.get("type") == "external_select"
                    and element.get("action_id") == action_id
                ):
                    least = int(element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH))
                    if len(typed) < least:
                        raise ValueError(f"Slack asks for options after {least} characters")
                    return block_suggestion_payload(
                        view=view,
                        action_id=action_id,
                        block_id=str(block.get("block_id", "")),
                        value=typed,
                        user=user,
                    )
        raise LookupError(f"view {view_id} has no external_select {action_id!r}")

    def show_options(
        self, view_id: str, action_id: str, answer: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """What the menu shows from the app's answer to an options request: its `options`, or
        none when Slack would refuse the answer (no list, more than 100 options, an option's
        text over 75 or value over 150 characters; Slack shows an error in the menu). The
        options shown are the ones a submission may choose."""
        options = (answer or {}).get("options")
        problems = (
            element_problems({"options": options}, "/options")
            if isinstance(options, list)
            else ["[ERROR] an options answer needs options [json-pointer:/options]"]
        )
        if problems or not isinstance(options, list):
            self.refused_options.append((action_id, problems))
            options = []
        self._shown_options[(view_id, action_id)] = list(options)
        self._changed()
        return list(options)

    @staticmethod
    def _find_element(message: Message, action_id: str) -> tuple[str, dict[str, Any]]:
        for block in message.blocks or []:
            elements = [*block.get("elements", []), block.get("accessory") or {}]
            for element in elements:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return block.get("block_id", ""), element
        raise LookupError(f"message {message.ts} has no element with action_id {action_id!r}")

    # -- Socket Mode ----------------------------------------------------------------------------

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="unknown ticket: call apps.connections.open first")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self._socket_connects += 1
        self._changed()
        try:
            await ws.send_json(self._hello())
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._on_socket_text(frame.data)
        finally:
            self._sockets.remove(ws)
            self._changed()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {
                "host": "fake-slack",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }

    def _on_socket_text(self, data: str) -> None:
        try:
            message = json.loads(data)
            envelope_id = message["envelope_id"]
        except (ValueError, TypeError, KeyError):
            return  # Slack ignores frames that are not acks, and so does the fake
        envelope = next(
            (e for e in reversed(self._deliveries) if e["envelope_id"] == envelope_id), None
        )
        if envelope is None:
            return
        ack = Ack(envelope, message.get("payload"), time.time())
        self._acks.append(ack)
        pending = self._pending_acks.get(envelope_id)
        if pending is not None and not pending.done():
            pending.set_result(ack)
        self._changed()

    async def push_event(
        self, event: dict[str, Any], *, event_id: str | None = None, timeout: float = 5.0
    ) -> Ack:
        """Sends `event` as an events_api envelope and returns the ack; AckTimeout if none comes.

        Waits (within timeout) for a connected client first, so it can follow connect or reconnect directly.
        """
        envelope = {
            "type": "events_api",
            "envelope_id": str(uuid.uuid4()),
            "payload": event_callback(event, event_id=event_id),
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        return await self._deliver(envelope, timeout)

    async def push_interactive(self, payload: dict[str, Any], *, timeout: float = 5.0) -> Ack:
        """Sends an interactivity payload (block_actions, view_submission, ...) and returns the ack."""
        envelope = {
            "type": "interactive",
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            # Only these may answer with a payload (e.g. response_action errors) in the ack.
            "accepts_response_payload": payload.get("type")
            in ("view_submission", "block_suggestion"),
        }
        return await self._deliver(envelope, timeout)

    async def redeliver(
        self, envelope: dict[str, Any], *, reason: str = "timeout", timeout: float = 5.0
    ) -> Ack:
        """Slack's retry of an envelope: same payload (same event_id), new envelope_id, retry_attempt + 1."""
        retry = {
            **envelope,
            "envelope_id": str(uuid.uuid4()),
            "retry_attempt": int(envelope.get("retry_attempt") or 0) + 1,
            "retry_reason": reason,
        }
        return await self._deliver(retry, timeout)

    async def push_event_until_acked(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        ack_timeout: float = 3.0,
        attempts: int = 4,
    ) -> Ack:
        """As Slack treats an events_api envelope nobody acknowledges: after `ack_timeout` the
        same event (same event_id, retry_attempt + 1, reason "timeout") is sent again, to
        another open connection when there is one, up to `attempts` sends in all; AckTimeout
        after the last."""
        envelope = {
            "type": "events_api",
            "envelope_id": str(uuid.uuid4()),
            "payload": event_callback(event, event_id=event_id),
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for attempt in range(attempts):
            if attempt:
                previous = self._delivered_on.get(str(envelope["envelope_id"]))
                envelope = {
                    **envelope,
                    "envelope_id": str(uuid.uuid4()),
                    "retry_attempt": attempt,
                    "retry_reason": "timeout",
                }
            else:
                previous = None
            try:
                return await self._deliver(envelope, ack_timeout, avoid=previous)
            except AckTimeout:
                continue
        raise AckTimeout(envelope, ack_timeout * attempts)

    async def disconnect_socket(self, reason: str | None = None) -> None:
        """Closes every Socket Mode connection from Slack's side; a healthy client reconnects.

        With a reason (e.g. "refresh_requested"), first sends Slack's {"type": "disconnect"} notice.
        """
        sockets = list(self._sockets)
        for ws in sockets:
            if reason is not None:
                await ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}}
                )
            await ws.close()
        await self._sockets_gone(sockets)

    async def _deliver(
        self,
        envelope: dict[str, Any],
        timeout: float,
        avoid: web.WebSocketResponse | None = None,
    ) -> Ack:
        envelope_id = envelope["envelope_id"]
        acked: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = acked
        try:
            async with asyncio.timeout(timeout):
                await self._send_envelope(envelope, avoid)
                return await acked
        except TimeoutError:
            raise AckTimeout(envelope, timeout) from None
        finally:
            del self._pending_acks[envelope_id]

    async def _send_envelope(
        self, envelope: dict[str, Any], avoid: web.WebSocketResponse | None = None
    ) -> None:
        """To the newest connection, or the next in turn when spreading; a connection that is
        closing is skipped once it is gone. `avoid` (a retry's earlier connection) is skipped
        while another one is open."""
        while True:
            sockets = await self.wait_for(lambda: self._sockets, timeout=None)
            others = [ws for ws in sockets if ws is not avoid]
            if others and len(others) < len(sockets):
                sockets = others
            ws = (
                sockets[next(self._envelopes_sent) % len(sockets)]
                if self._spread_events
                else sockets[-1]
            )
            # Recorded before sending: the ack can arrive while send_str() is still draining.
            self._deliveries.append(envelope)
            self._delivered_on[envelope["envelope_id"]] = ws
            try:
                await ws.send_str(json.dumps(envelope))
            except ConnectionError:
                self._deliveries.remove(envelope)
                await self._sockets_gone([ws], timeout=None)
                continue
            self._changed()
            return

    async def _sockets_gone(
        self, sockets: Collection[web.WebSocketResponse], timeout: float | None = 5.0
    ) -> None:
        """Until the handlers of these connections have finished (and unregistered them)."""
        await self.wait_for(lambda: not any(ws in self._sockets for ws in sockets), timeout)


class FakeSlackThread:
    """A FakeSlack serving from its own event loop on a daemon thread, for synchronous tests.

    The fake's state belongs to that loop, so read and change it through call() and run():
        srv = FakeSlack().run_in_thread()
        channel = srv.call(srv.fake.add_channel, "escalations")
        WebClient(token=srv.fake.bot_token, base_url=srv.api_url).chat_postMessage(channel=channel, text="hi")
        assert len(srv.call(srv.fake.messages, channel)) == 1
        srv.run(srv.fake.go_down())
        srv.stop()
    """

    def __init__(
        self, fake: FakeSlack, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.fake = fake
        self._loop = loop
        self._thread = thread

    @property
    def api_url(self) -> str:
        return self.fake.api_url

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Runs a plain FakeSlack method (messages, calls, rate_limit, ...) on the fake's loop."""

        async def invoke() -> T:
            return fn(*args, **kwargs)

        return self.run(invoke())

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Runs a FakeSlack coroutine (go_down(), push_event(...), wait_for(...)) on the fake's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        try:
            self.run(self.fake.stop())
        finally:
            self.close_loop()

    def close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> FakeSlackThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
