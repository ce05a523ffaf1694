"""Drafts in the thread: under a customer's message during a handoff, the answer the agent
would give (agent/drafts.py), with **Send as AI**, **Edit and send** and **Dismiss**.

A draft is a help, never a duty: one is asked for once per customer message (a key in the
store, so a restart or another replica does not draft it again), skipped while the channel is
behind Slack's pace, and a draft that fails or comes back empty is simply not shown. What an
operator sends from it goes through the outbox like any reply (once, checked like an `ai:`
reply); each draft posted is recorded in the session (`draft_offered`, without its text) and
each decision written into it as an internal note ("Draft sent as is by Dana", "edited",
"dismissed"), for review and for the insights page's figures (handoff/copilot_events.py), and
the draft's message says who did what.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError

from handoff import actions
from handoff.actions import Operator
from handoff.operator_api import AsyncOperatorApi
from slack_bridge import draft_message, metrics
from slack_bridge.draft_message import DraftTarget
from slack_bridge.feed import MirrorEvent
from slack_bridge.inbound import Inbound
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore, ThreadLink
from slack_kit.masking import Masker
from slack_kit.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    not_looked_up,
)

log = logging.getLogger(__name__)

# Only a customer message this recent gets a draft: older ones were answered or are stale.
FRESH_S = 600.0
# A draft is a model turn: on a real LLM it can take a while.
DRAFT_TIMEOUT_S = 120.0
# What leaves a customer message without a draft (the operator answers as ever).
NO_DRAFT: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    ApiError,
    SlackRejected,
    SlackUnavailable,
    AnswerLost,
    *STORE_UNAVAILABLE,
)
OUTCOME_NOTES = {
    "sent": "Draft sent as is",
    "edited": "Draft edited and sent",
    "dismissed": "Draft dismissed",
}


class Drafts:
    def __init__(
        self,
        api: AsyncOperatorApi,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        masker: Masker,
        inbound: Inbound,
        enabled: bool,
        behind: Callable[[str], bool],
    ) -> None:
        self._api = api
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._masker = masker
        self._inbound = inbound
        self._enabled = enabled
        self._behind = behind
        self._tasks: set[asyncio.Task[None]] = set()

    # -- offering ---------------------------------------------------------------------------

    def customer_wrote(self, thread: ThreadLink, event: MirrorEvent) -> None:
        """The customer's message is in the thread now, the last there: draft an answer to
        it, unless it is old (a restart catching up on thousands of threads drafts none)."""
        if not self._enabled or self._behind(thread.channel):
            return
        written = event.creation_utc
        if written is not None and written.tzinfo is None:
            written = written.replace(tzinfo=UTC)
        if written is not None and (datetime.now(UTC) - written).total_seconds() > FRESH_S:
            return
        task = asyncio.create_task(self._offer(thread, event.id), name=f"draft-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _offer(self, thread: ThreadLink, event_id: str) -> None:
        try:
            if not await self._store.first_sighting(f"draft-for:{thread.session_id}:{event_id}"):
                return
            drafted = await self._api.draft(thread.session_id, DRAFT_TIMEOUT_S)
            if drafted is None:
                log.debug("no draft session=%s", thread.session_id)
                return
            text, blocks = draft_message.draft_message(
                drafted.message, self._masker, thread.session_id
            )

            ts = await self._caller.post_message(
                not_looked_up,
                channel=thread.channel,
                thread_ts=thread.ts,
                text=text,
                blocks=blocks,
                metadata=draft_message.draft_metadata(thread.session_id, event_id),
                unfurl_links=False,
                unfurl_media=False,
            )
            metrics.draft_offered()
            log.info("draft offered session=%s slack_ts=%s", thread.session_id, ts)
        except NO_DRAFT as error:
            log.warning("draft not offered session=%s: %r", thread.session_id, error)
            return
        try:
            await actions.record_draft_offered(self._parlant, thread.session_id, ts)
        except Exception as error:  # the figure misses one; the draft is in the thread
            log.warning("draft offer not recorded session=%s: %r", thread.session_id, error)

    # -- deciding ---------------------------------------------------------------------------

    # Both past the operator gate (slack_bridge/operator_middleware.py): `user` is the Slack
    # user who clicked, `operator` the same person as the shared actions know them.

    async def send(
        self, target: DraftTarget, user: str, operator: Operator, text: str, edited: bool
    ) -> str | None:
        """Sends the draft (or its edited text) as the AI; what to tell the operator if not."""
        first = await self._inbound.queue_draft(
            target.session_id,
            target.channel,
            target.draft_ts,
            target.thread_ts,
            user,
            operator.name,
            text,
        )
        if first:
            await self._decided(target, user, operator, "edited" if edited else "sent", text)
            return None
        return "This draft was sent already."

    async def dismiss(
        self, target: DraftTarget, user: str, operator: Operator, text: str
    ) -> str | None:
        if not await self._store.first_sighting(f"draft:{target.channel}:{target.draft_ts}"):
            return "This draft was sent or dismissed already."
        await self._decided(target, user, operator, "dismissed", text)
        return None

    async def _decided(
        self, target: DraftTarget, user: str, operator: Operator, outcome: str, text: str
    ) -> None:
        line, blocks = draft_message.draft_outcome(user, outcome, self._masker.mask(text))
        try:
            await self._caller.call(
                "chat.update", channel=target.channel, ts=target.draft_ts, text=line, blocks=blocks
            )
        except (SlackRejected, SlackUnavailable) as error:
            log.warning("draft message not updated slack_ts=%s: %s", target.draft_ts, error)
        try:
            await actions.record_draft_outcome(
                self._parlant,
                target.session_id,
                operator,
                outcome,
                target.draft_ts,
                f"{OUTCOME_NOTES[outcome]} by {operator.name}.",
            )
        except Exception as error:  # the figure misses one; the reply itself is in the outbox
            log.warning("draft outcome not recorded session=%s: %r", target.session_id, error)
        metrics.draft_decided(outcome)
        log.info(
            "draft %s session=%s slack_ts=%s user=%s",
            outcome,
            target.session_id,
            target.draft_ts,
            user,
        )
