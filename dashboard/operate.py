"""Running the shared operator actions (handoff.actions) from the dashboard's synchronous script.

Each call gets its own event loop and a fresh async client; the actions themselves are the one
implementation shared with the Slack bridge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from parlant.client.core.api_error import ApiError

from dashboard import data
from dashboard.settings import DashboardSettings
from handoff.actions import InvalidHandbackNote, Operator, ReplyHeld
from handoff.record import HandoffNotActive

log = logging.getLogger(__name__)

Action = Callable[..., Awaitable[Any]]


class ActionFailed(Exception):
    """An action did not happen; the message is meant for the supervisor who tried it."""


class ReplyWasHeld(ActionFailed):
    """A reply as the AI the agent did not send: it breaks `rule` (agent/ai_reply_rules.py)."""

    def __init__(self, held: ReplyHeld) -> None:
        super().__init__(f"Not sent in the agent's name: {held.why}.")
        self.rule = held.rule


def explain(error: Exception) -> str:
    """What went wrong, in words a supervisor can act on."""
    if isinstance(error, InvalidHandbackNote):
        return str(error)
    if isinstance(error, HandoffNotActive):
        if error.status is None:
            return "This session was never handed off to a human."
        return f"This session is back with the AI ({error.status}); take it over first."
    if isinstance(error, ApiError):
        if error.status_code == 404:
            return "Parlant does not know this session any more."
        if error.status_code in (401, 403):
            return "Parlant refused the dashboard's credentials (check PARLANT_OPERATOR_TOKEN)."
        return f"Parlant answered with an error ({error.status_code}); try again."
    return f"Could not reach Parlant ({type(error).__name__}); try again."


def perform(
    settings: DashboardSettings,
    action: Action,
    session_id: str,
    operator: Operator,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """Run `action(client, session_id, operator, *args)`; raises ActionFailed with a readable reason."""

    async def go() -> Any:
        async with data.async_client(settings) as api:
            return await action(api, session_id, operator, *args, **kwargs)

    name = getattr(action, "__name__", "action")
    try:
        result = asyncio.run(go())
    except ReplyHeld as held:
        log.info(
            "dashboard reply held session=%s operator=%s rule=%s",
            session_id,
            operator.id,
            held.rule,
        )
        raise ReplyWasHeld(held) from held
    except (HandoffNotActive, InvalidHandbackNote, ApiError, httpx.HTTPError, OSError) as error:
        log.warning(
            "dashboard action=%s session=%s operator=%s failed: %s",
            name,
            session_id,
            operator.id,
            type(error).__name__,
        )
        raise ActionFailed(explain(error)) from error
    log.info("dashboard action=%s session=%s operator=%s", name, session_id, operator.id)
    data.escalations.clear()
    return result


def _learning_call(settings: DashboardSettings, path: str, body: Any, what: str) -> Any:
    try:
        answer = data.post(settings, path, body)
    except httpx.HTTPError as error:
        log.warning("dashboard %s failed: %s", what, type(error).__name__)
        raise ActionFailed(
            f"Could not reach Parlant ({type(error).__name__}); try again."
        ) from error
    if answer.status_code in (401, 403):
        raise ActionFailed(explain(ApiError(status_code=answer.status_code, body=answer.text)))
    if answer.status_code >= 400:
        detail = (
            answer.json().get("detail")
            if answer.headers.get("content-type", "").startswith("application/json")
            else None
        )
        raise ActionFailed(
            str(detail or f"The agent answered with an error ({answer.status_code}).")
        )
    data.learned_entries.clear()
    return answer.json()


def propose(settings: DashboardSettings, body: dict[str, Any]) -> dict[str, Any]:
    """A proposed guideline or term (agent/learning_route.py); ActionFailed saying what to change."""
    entry: dict[str, Any] = _learning_call(
        settings, "/escalations/learning/proposals", body, "proposal"
    )
    log.info("dashboard proposal=%s kind=%s", entry.get("id"), entry.get("kind"))
    return entry


def decide(
    settings: DashboardSettings, entry_id: str, decision: str, operator: Operator
) -> dict[str, Any]:
    """Accept or reject a proposal, as `operator`; the agent declares it at its next start."""
    entry: dict[str, Any] = _learning_call(
        settings,
        f"/escalations/learning/{quote(entry_id, safe='')}/{decision}",
        {"by": {"id": operator.id, "name": operator.name}},
        decision,
    )
    log.info("dashboard proposal=%s %s by=%s", entry_id, decision, operator.id)
    return entry
