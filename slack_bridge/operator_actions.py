"""Operators acting from Slack: the root message's buttons and the handback form.

Each click has passed the one operator gate (slack_bridge/operator_middleware.py, in front of
its listener) before it gets here: these run the shared action (handoff.actions, the same code
the dashboard uses) as the `Operator` the gate let through and rewrite the root message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from parlant.client.core.api_error import ApiError

from config.crash_points import crash_point
from handoff import actions
from handoff.actions import Operator
from handoff.learning import InvalidTag, resolve_tag
from handoff.operator_api import AsyncOperatorClient
from handoff.record import ACTIVE_STATUSES, HandoffNotActive, HandoffRecord
from slack_bridge import handback_form, resolve_form
from slack_bridge.feedback import Feedback
from slack_bridge.handback_form import HandbackTarget
from slack_bridge.handback_line import HandbackLines
from slack_bridge.leases import Leases
from slack_bridge.mirror import Mirrors
from slack_bridge.resolve_form import ResolveTarget
from slack_bridge.root_sync import RootSync
from slack_bridge.store import BridgeStore, ThreadLink
from slack_kit import root_message
from slack_kit.slack_api import AnswerLost, SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

ButtonAction = Callable[[AsyncOperatorClient, str, Operator], Awaitable[object]]
# Buttons that act at once. Return to AI opens the handback form instead (open_handback), and
# Resolve the resolve form (open_resolve).
BUTTON_ACTIONS: dict[str, ButtonAction] = {
    root_message.ACTION_CLAIM: actions.claim,
    root_message.ACTION_TAKE_OVER: actions.take_over,
}
UNREACHABLE = "Parlant could not be reached; nothing changed. Please try again."
# The handoff tool posts the root message before it writes the record into the session (so a
# bridge only ever retries a post that failed: agent/tools.py), so a click in between finds no
# record yet. A root exists only for a handoff, so that click waits for the record this long;
# Return to AI less, its form's trigger working for 3 s only.
RECORD_WAIT_S = 10.0
FORM_RECORD_WAIT_S = 2.0
RECORD_POLL_S = 0.2


class OperatorActions:
    def __init__(
        self,
        parlant: AsyncOperatorClient,
        caller: SlackCaller,
        store: BridgeStore,
        roots: RootSync,
        mirrors: Mirrors,
        feedback: Feedback,
        leases: Leases,
    ) -> None:
        self._leases = leases
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._roots = roots
        self._mirrors = mirrors
        self.feedback = feedback
        self.handback_lines = HandbackLines(parlant, caller, store)

    async def on_button(self, action_id: str, session_id: str, operator: Operator) -> str | None:
        """Run a button's action; returns a message for the clicking operator when refused."""
        try:
            await _once_recorded(
                lambda: BUTTON_ACTIONS[action_id](self._parlant, session_id, operator),
                RECORD_WAIT_S,
            )
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except (ApiError, httpx.TransportError) as error:
            log.warning("button %s failed session=%s: %r", action_id, session_id, error)
            return UNREACHABLE
        log.info("button %s session=%s by user=%s", action_id, session_id, operator.id)
        await self._roots.refresh_session(session_id)
        if action_id == root_message.ACTION_TAKE_OVER:
            thread = await self._store.thread_for_session(session_id)
            if thread:
                self._mirrors.follow(thread)
        return None

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """A form opened at a click (views.open; the trigger works once, within 3 s)."""
        try:
            await self._caller.call("views.open", trigger_id=trigger_id, view=view)
        except (SlackUnavailable, SlackRejected) as error:
            log.warning("form not opened: %s", error)

    async def open_handback(
        self, trigger_id: str, target: HandbackTarget, operator: Operator
    ) -> str | None:
        """Return to AI: open the handback form, unless the session is no longer handed off."""

        async def recorded() -> HandoffRecord:
            record = await actions.current_record(self._parlant, target.session_id)
            if record is None:
                raise HandoffNotActive(target.session_id, None)
            return record

        try:
            record = await _once_recorded(recorded, FORM_RECORD_WAIT_S)
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except (ApiError, httpx.TransportError) as error:
            log.warning(
                "handback form session=%s: parlant unreachable: %r", target.session_id, error
            )
            return UNREACHABLE
        if record.get("status") not in ACTIVE_STATUSES:
            return _not_active(HandoffNotActive(target.session_id, record.get("status")))
        try:
            await self._caller.call(
                "views.open", trigger_id=trigger_id, view=handback_form.handback_modal(target)
            )
        except (SlackUnavailable, SlackRejected) as error:
            log.warning(
                "handback form not opened session=%s user=%s: %s",
                target.session_id,
                operator.id,
                error,
            )
            return "Slack could not open the handback form; press Return to AI again."
        log.info("handback form opened session=%s user=%s", target.session_id, operator.id)
        return None

    async def open_resolve(
        self, trigger_id: str, target: ResolveTarget, operator: Operator
    ) -> str | None:
        """Resolve: open the resolve form (why the AI could not finish). The form opens first:
        the trigger lives 3 s, and the record is read again when the form comes back."""
        try:
            await self._caller.call(
                "views.open", trigger_id=trigger_id, view=resolve_form.resolve_modal(target)
            )
        except (SlackUnavailable, SlackRejected) as error:
            log.warning(
                "resolve form not opened session=%s user=%s: %s",
                target.session_id,
                operator.id,
                error,
            )
            return "Slack could not open the resolve form; press Resolve again."
        log.info("resolve form opened session=%s user=%s", target.session_id, operator.id)
        return None

    async def resolve(
        self, target: ResolveTarget, operator: Operator, why: str | None, answer: str
    ) -> str | None:
        """A submitted resolve form: resolve with the operator's tag, rewrite the root.
        Returns a message for the operator when refused."""
        try:
            tag = resolve_tag(why, answer)
        except InvalidTag as invalid:
            return str(invalid)
        try:
            await actions.resolve(self._parlant, target.session_id, operator, tag)
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except (ApiError, httpx.TransportError) as error:
            log.warning("resolve failed session=%s: %r", target.session_id, error)
            return UNREACHABLE
        log.info(
            "resolved session=%s by user=%s why=%s answer=%s",
            target.session_id,
            operator.id,
            tag.why.value,
            "yes" if tag.answer else "no",
        )
        await self._roots.refresh_session(target.session_id)
        return None

    async def hand_back(self, target: HandbackTarget, operator: Operator, note: str) -> str | None:
        """A submitted handback form: return the session to the AI with the note, say so in the
        thread, rewrite the root. Returns a message for the operator when refused."""
        try:
            handback = await actions.return_to_ai(self._parlant, target.session_id, operator, note)
        except HandoffNotActive as not_active:
            return _not_active(not_active)
        except actions.InvalidHandbackNote as invalid:
            return str(invalid)
        except (ApiError, httpx.TransportError) as error:
            log.warning("handback failed session=%s: %r", target.session_id, error)
            return UNREACHABLE
        log.info(
            "handed back session=%s by user=%s event=%s",
            target.session_id,
            operator.id,
            handback.event_id,
        )
        crash_point("handback.before_post")
        if await self._leases.acquire([target.session_id]):
            # Else the lease holder's discovery posts the line (ensure) on its next pass.
            await self._post_handback(target, operator, handback)
        await self._roots.refresh_session(target.session_id)
        return None

    async def _post_handback(
        self, target: HandbackTarget, operator: Operator, handback: actions.Handback
    ) -> None:
        thread = await self._store.thread_for_session(target.session_id) or ThreadLink(
            target.session_id, target.channel, target.thread_ts
        )
        try:
            await self.handback_lines.post(thread, handback.event_id, operator.name, handback.note)
        except (SlackUnavailable, SlackRejected, AnswerLost) as error:
            # The handback itself happened and the note is in Parlant (and the dashboard);
            # discovery posts the line once Slack is back.
            log.warning("handback line not posted session=%s: %s", target.session_id, error)


async def _once_recorded(attempt: Callable[[], Awaitable[T]], wait_s: float) -> T:
    """`attempt`, made again while it finds no handoff record at all, for up to `wait_s` (a
    click between the root's post and the record's write: see RECORD_WAIT_S)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await attempt()
        except HandoffNotActive as not_active:
            if not_active.status is not None or time.monotonic() > deadline:
                raise
        await asyncio.sleep(RECORD_POLL_S)


def _not_active(refusal: HandoffNotActive) -> str:
    return (
        f"This escalation is {refusal.status or 'not handed off'};"
        " use Take over to handle it again."
    )
