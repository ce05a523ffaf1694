"""Canned replies from Slack: a message shortcut in an escalation thread opens a search over
the replies supervisors keep (agent/canned_route.py); the one chosen goes to the customer as
the operator's own message, its placeholders filled from the customer's record by the agent.

What is sent goes through the outbox like any thread reply (slack_bridge/inbound.py): the
bridge first posts it into the thread, and that post's ts is the reply's key there and in the
agent (agent/reply_keys.py), so a retry never sends it twice, and its reactions say what became
of it. A reply the agent cannot fill whole (a placeholder this customer has no value for) is
refused in the form, with the reason under the field: nothing half-filled is sent. A form
submitted twice (the operator pressed Send again while Slack waited) is sent once.

The choice lives in the bridge's memory from the form's close until the reply is in the outbox
(a thread post, then one store write), as a button click does: a bridge killed in between
loses it, and the thread shows no post, or one without ✅; the operator chooses it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from slack_bridge import canned_form, metrics
from slack_bridge.canned_form import CannedTarget
from slack_bridge.inbound import Inbound
from slack_bridge.operator_actions import OperatorActions
from slack_bridge.operators import OperatorGate
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore
from slack_kit.masking import Masker
from slack_kit.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    not_looked_up,
)

log = logging.getLogger(__name__)

# Slack waits 3 s for the answer to an options request and to a form's submission: the
# agent's answer must come well within that.
AGENT_TIMEOUT_S = 2.0
NOT_IN_THREAD = (
    "Canned replies go into an escalation's thread: use the shortcut on a message there."
)
AGENT_SILENT = "The agent did not answer. Nothing was sent; try again in a moment."
GONE = "This reply was deleted or changed meanwhile. Nothing was sent; search again."
NOT_POSTED = "Your canned reply was not sent: Slack did not take its thread post. Choose it again."
NOT_QUEUED = (
    "Your canned reply was not sent: the bridge could not store it. Choose it again in a moment."
)


@dataclass(frozen=True)
class Filled:
    title: str
    text: str


class CannedReplies:
    def __init__(
        self,
        http: httpx.AsyncClient,
        parlant_url: str,
        caller: SlackCaller,
        store: BridgeStore,
        masker: Masker,
        inbound: Inbound,
        gate: OperatorGate,
        actions: OperatorActions,
    ) -> None:
        self._http = http
        self._base = parlant_url.rstrip("/")
        self._caller = caller
        self._store = store
        self._masker = masker
        self._inbound = inbound
        self._gate = gate
        self._actions = actions

    async def open(
        self, trigger_id: str, channel: str, message: dict[str, Any], user: str
    ) -> str | None:
        """The shortcut on a message: the search form for its thread, unless refused (what to
        tell the operator then)."""
        thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
        link = await self._inbound.thread_link(channel, thread_ts) if thread_ts else None
        if link is None:
            return NOT_IN_THREAD
        refusal = await self._gate.refusal(user, channel, link.session_id)
        if refusal:
            return refusal
        await self._actions.open_view(
            trigger_id, canned_form.search_modal(CannedTarget(link.session_id, channel, thread_ts))
        )
        return None

    async def search(self, user: str, typed: str) -> list[dict[str, Any]]:
        """The options for what the operator typed; none for a non-operator, or while the agent
        does not answer (Slack shows an empty list)."""
        if not await self._gate.is_operator(user):
            return []
        try:
            answer = await self._http.get(
                f"{self._base}/escalations/canned-replies",
                params={"q": typed[:200]},
                timeout=AGENT_TIMEOUT_S,
            )
            answer.raise_for_status()
            return canned_form.options(answer.json().get("items") or [])
        except (httpx.HTTPError, ValueError) as error:
            log.warning("canned replies not listed: %r", error)
            return []

    async def fill(self, target: CannedTarget, reply_id: str, user: str) -> Filled | str:
        """The reply filled for the thread's customer, or why nothing can be sent (for the
        form): in Slack's 3 s, before the form closes."""
        filled = await self._fill(target, reply_id, user)
        if isinstance(filled, str):
            metrics.canned_reply("refused")
            log.info("canned reply refused session=%s user=%s", target.session_id, user)
        return filled

    async def _fill(self, target: CannedTarget, reply_id: str, user: str) -> Filled | str:
        refusal = await self._gate.refusal(user, target.channel, target.session_id)
        if refusal:
            return refusal
        try:
            answer = await self._http.get(
                f"{self._base}/escalations/{quote(target.session_id, safe='')}"
                f"/canned-replies/{quote(reply_id, safe='')}",
                timeout=AGENT_TIMEOUT_S,
            )
        except httpx.HTTPError as error:
            log.warning("canned reply not filled session=%s: %r", target.session_id, error)
            return AGENT_SILENT
        if answer.status_code in (409, 422):  # not with a person; a value missing
            return str(answer.json().get("detail") or GONE)
        if answer.status_code == 404:
            return GONE
        if answer.status_code != 200:
            log.warning(
                "canned reply not filled session=%s: HTTP %s",
                target.session_id,
                answer.status_code,
            )
            return AGENT_SILENT
        filled = answer.json()
        return Filled(str(filled["title"]), str(filled["text"]))

    async def send(self, view_id: str, target: CannedTarget, filled: Filled, user: str) -> None:
        """Posts the filled reply into the thread and queues it for the customer, keyed on the
        post; what went wrong is told to the operator privately."""
        if not await self._store.first_sighting(f"canned:{view_id}"):
            log.info("canned form submitted again view=%s", view_id)
            return
        text, blocks = canned_form.sent_post(user, filled.title, filled.text, self._masker)
        try:
            ts = await self._caller.post_message(
                not_looked_up,
                channel=target.channel,
                thread_ts=target.thread_ts,
                text=text,
                blocks=blocks,
                metadata=canned_form.canned_metadata(target.session_id, view_id),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackRejected, SlackUnavailable, AnswerLost) as error:
            log.warning("canned reply not posted session=%s: %r", target.session_id, error)
            metrics.canned_reply("not_posted")
            await self._actions.feedback.tell(target.channel, user, target.thread_ts, NOT_POSTED)
            return
        try:
            await self._inbound.queue_canned(
                target.session_id, target.channel, ts, target.thread_ts, user, filled.text
            )
            metrics.canned_reply("queued")
        except STORE_UNAVAILABLE as error:
            log.error("canned reply not queued session=%s: %r", target.session_id, error)
            await self._actions.feedback.tell(target.channel, user, target.thread_ts, NOT_QUEUED)
