"""Calling Slack's Web API within its limits, without ever posting the same message twice.

- 429 answers are waited out per Retry-After and the call repeated: Slack did not act on it.
- Posts are paced per channel (Slack allows about one post per second per channel, with short
  bursts): slack_kit/pacing.py.
- A post whose answer is lost (connection dropped, timeout) may or may not have landed, so it is
  never blindly retried: the caller's `find_existing` looks the message up by its metadata first.
- Slack being down or refusing (5xx, bad token) raises `SlackUnavailable`; callers keep their
  work pending and try again later.
- Every call goes through slack_sdk's method of the same name, which sends it the way Slack takes
  it: read methods (conversations.replies, users.info, chat.getPermalink, ...) as GET with a query
  string, most writes as JSON. Slack does not see the arguments of a read sent as a JSON body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slack_kit.pacing import IN_TURN, LocalPacer, Pacer

log = logging.getLogger(__name__)

# How a call ended, as the bridge's metrics count it (rate_limited: a 429, waited out and retried).
SlackOutcome = Literal["ok", "rate_limited", "rejected", "unavailable", "answer_lost"]
CallObserver = Callable[[str, SlackOutcome], None]

MAX_RATE_LIMIT_WAITS = 20
CALL_TIMEOUT_S = 10


# Slack errors that mean "not now" rather than "never": the work stays pending.
UNAVAILABLE_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


def _outcome(status: int, error: object) -> SlackOutcome:
    if status == 429:
        return "rate_limited"
    if status >= 500 or error in UNAVAILABLE_ERRORS:
        return "unavailable"
    return "rejected"


def _failure(error: BaseException) -> str:
    """A connection failure in one readable line: aiohttp's repr of a refused connection was
    three lines' worth of its connection key in every /readyz answer and log line."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else repr(error)


class SlackUnavailable(Exception):
    """Slack could not be reached or refused the call; nothing is known to have happened."""


class SlackRejected(Exception):
    """Slack answered with an error that retrying will not fix (e.g. channel_not_found)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


class AnswerLost(Exception):
    """The request may have reached Slack but no answer came back."""


def web_client(token: str, api_url: str, session: aiohttp.ClientSession) -> AsyncWebClient:
    # No retry handlers: slack_sdk's default one resends a post whose answer was lost.
    return AsyncWebClient(
        token=token, base_url=api_url, session=session, timeout=CALL_TIMEOUT_S, retry_handlers=[]
    )


def client_session(max_connections: int = 50) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max_connections))


def _sdk_method(client: AsyncWebClient, method: str) -> Callable[..., Awaitable[Any]]:
    """slack_sdk's own function for `method` ("chat.getPermalink" -> client.chat_getPermalink)."""
    function = getattr(client, method.replace(".", "_"), None)
    if function is None:
        raise ValueError(f"slack_sdk has no method {method}")
    return function  # type: ignore[no-any-return]


async def not_looked_up() -> None:
    """`post_message`'s `find_existing` for a post that may be missing after a lost answer (a
    note, a draft): it is not looked for, and so never posted twice by a blind retry either."""
    return None


class SlackCaller:
    """All Web API calls go through here: rate limits, pacing and failure classes in one place."""

    def __init__(
        self,
        client: AsyncWebClient,
        posts_per_second: float = 1.0,
        burst: int = 3,
        on_call: CallObserver | None = None,
        pacer: Pacer | None = None,
        rate_limit_waits: int = MAX_RATE_LIMIT_WAITS,
    ) -> None:
        """`pacer` paces posts per channel; by default this process's own (`LocalPacer`),
        bridge replicas share one through their database (`SharedPacer`)."""
        self.client = client
        # The bridge counts every call's outcome in its metrics; the agent does not.
        self._observe: CallObserver = on_call or (lambda method, outcome: None)
        self._pacer: Pacer = pacer or LocalPacer(posts_per_second, burst)
        # How many attempts a post makes while Slack answers 429, waiting out each Retry-After
        # but the last (then SlackUnavailable): the agent's root posts make one, and leave the
        # post to the bridges' shared pace at the first 429.
        self._post_waits = rate_limit_waits

    async def call(
        self, method: str, *, attempts: int = MAX_RATE_LIMIT_WAITS, **params: Any
    ) -> dict[str, Any]:
        """A call that is safe to repeat (reads, updates, reactions). Made up to `attempts`
        times while Slack answers 429, waiting its Retry-After between; the last 429 is not
        waited out (SlackUnavailable at once), so `attempts=1` never waits."""
        for attempt in range(1, attempts + 1):
            try:
                response = await _sdk_method(self.client, method)(**params)
                self._observe(method, "ok")
                return dict(response.data)
            except SlackApiError as error:
                await self._raise_unless_rate_limited(method, error, last=attempt == attempts)
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                self._observe(method, "unavailable")
                raise SlackUnavailable(f"{method}: {_failure(error)}") from error
        raise ValueError(f"{method}: attempts must be at least 1, not {attempts}")

    async def turn(self, channel: str, priority: int = IN_TURN) -> None:
        """Waits for `channel`'s next posting slot and takes it, for a post made with
        `paced=False`: a caller that builds its post once its turn has come (coalescing what
        arrived while it waited) takes the turn first."""
        await self._pacer.turn(channel, priority)

    async def count_post(self, channel: str, ts: str) -> None:
        """A message another process posted (the handoff tool's root) counts against the
        channel's allowance from when Slack stamped it: the bridges leave it its room instead
        of spending the channel's whole allowance and meeting 429s."""
        try:
            ago = time.time() - float(ts)
        except ValueError:
            return
        await self._pacer.count(channel, ago)

    async def post_message(
        self,
        find_existing: Callable[[], Awaitable[str | None]],
        *,
        paced: bool = True,
        priority: int = IN_TURN,
        **params: Any,
    ) -> str:
        """chat.postMessage exactly once; returns the message ts.

        `find_existing` returns the ts of this very message if an earlier attempt landed.
        `paced=False`: the caller took this post's turn already (`turn`); a retry after a 429
        still waits for the channel. `priority` (pacing.FIRST) puts it ahead of the channel's
        other waiting posts.
        """
        channel = str(params["channel"])
        for attempt in range(self._post_waits):
            if paced or attempt > 0:
                await self._pacer.turn(channel, priority)
            try:
                response = await self.client.chat_postMessage(**params)
                self._observe("chat.postMessage", "ok")
                return str(response["ts"])
            except SlackApiError as error:
                await self._raise_unless_rate_limited(
                    "chat.postMessage", error, channel, last=attempt == self._post_waits - 1
                )
            except (TimeoutError, aiohttp.ServerDisconnectedError) as error:
                self._observe("chat.postMessage", "answer_lost")
                existing = await self._lookup_after_lost_answer(find_existing)
                if existing:
                    return existing
                raise AnswerLost(f"chat.postMessage to {channel}: {error!r}") from error
            except aiohttp.ClientConnectorError as error:
                self._observe("chat.postMessage", "unavailable")
                raise SlackUnavailable(f"chat.postMessage: {_failure(error)}") from error
            except (aiohttp.ClientError, OSError) as error:
                self._observe("chat.postMessage", "answer_lost")
                existing = await self._lookup_after_lost_answer(find_existing)
                if existing:
                    return existing
                raise AnswerLost(f"chat.postMessage to {channel}: {error!r}") from error
        raise SlackUnavailable("chat.postMessage: still rate limited")

    async def _lookup_after_lost_answer(
        self, find_existing: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        try:
            return await find_existing()
        except (SlackUnavailable, SlackRejected):
            return None

    async def _raise_unless_rate_limited(
        self, method: str, error: SlackApiError, channel: str | None = None, last: bool = False
    ) -> None:
        """Returns after waiting out a 429 unless it was the `last` attempt's; raises otherwise.
        A last 429 is not slept on: the caller gives up now (the agent's handoff turn, under its
        session's lock, slept a whole Retry-After only to give up)."""
        response = error.response
        self._observe(method, _outcome(response.status_code, response.get("error")))
        if response.status_code == 429:
            retry_after = float(
                response.headers.get("Retry-After", response.headers.get("retry-after", 1))
            )
            log.warning(
                "slack rate limited method=%s channel=%s retry_after=%ss",
                method,
                channel,
                retry_after,
            )
            if channel is not None:
                await self._pacer.defer(channel, retry_after)
            if last:
                raise SlackUnavailable(
                    f"{method}: rate limited (retry after {retry_after:g}s)"
                ) from error
            await asyncio.sleep(retry_after)
            return
        if response.status_code >= 500:
            raise SlackUnavailable(f"{method}: HTTP {response.status_code}") from error
        slack_error = str(response.get("error", "unknown_error"))
        if slack_error in UNAVAILABLE_ERRORS:
            raise SlackUnavailable(f"{method}: {slack_error}") from error
        raise SlackRejected(method, slack_error) from error
