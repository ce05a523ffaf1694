"""Posting an escalation's root message, once, from the handoff tool or later from the bridge."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import aiohttp

from handoff.record import HandoffRecord, SlackLink
from slack_escalation import blocks
from slack_escalation.posted import find_in_channel, payload_of
from slack_escalation.settings import SlackSettings
from slack_escalation.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    client_session,
    web_client,
)

log = logging.getLogger(__name__)


async def find_root_message(caller: SlackCaller, channel: str, session_id: str) -> str | None:
    """The ts of a root message already posted for this session (its metadata names the session)."""
    event_type = blocks.escalation_metadata(session_id)["event_type"]

    def is_it(message: dict[str, Any]) -> bool:
        payload = payload_of(message, event_type)
        return payload is not None and payload.get("session_id") == session_id

    return await find_in_channel(caller, channel, is_it)


async def post_root_message(
    caller: SlackCaller, channel: str, view: blocks.EscalationView
) -> SlackLink:
    text, root_blocks = blocks.root_message(view)
    ts = await caller.post_message(
        lambda: find_root_message(caller, channel, view.session_id),
        channel=channel,
        text=text,
        blocks=root_blocks,
        metadata=blocks.escalation_metadata(view.session_id),
        unfurl_links=False,
        unfurl_media=False,
    )
    try:
        permalink = str(
            (await caller.call("chat.getPermalink", channel=channel, message_ts=ts)).get(
                "permalink", ""
            )
        )
    except (SlackUnavailable, SlackRejected):
        permalink = ""
    log.info("escalation posted session=%s channel=%s ts=%s", view.session_id, channel, ts)
    return SlackLink(state="posted", channel=channel, ts=ts, permalink=permalink)


class SlackEscalationNotifier:
    """The handoff tool's way to open the Slack thread; on any failure the bridge retries later."""

    initial_state = "pending"

    def __init__(self, slack: SlackSettings, dashboard_url: str) -> None:
        self._slack = slack
        self._dashboard_url = dashboard_url
        self._session: aiohttp.ClientSession | None = None

    async def escalation_requested(
        self,
        session_id: str,
        record: HandoffRecord,
        customer_name: str,
        recent: Sequence[tuple[str, str]],
        labels: Sequence[str] = (),
    ) -> SlackLink:
        if self._session is None:
            self._session = client_session(max_connections=10)
        caller = SlackCaller(web_client(self._slack.bot_token, self._slack.api_url, self._session))
        channel = self._slack.routes.route(record, labels)
        view = blocks.escalation_view(
            session_id,
            customer_name,
            dict(record),
            tuple(recent),
            self._dashboard_url,
            masker=self._slack.masker,
        )
        try:
            return await post_root_message(caller, channel, view)
        except (SlackUnavailable, SlackRejected, AnswerLost) as error:
            log.warning(
                "escalation post failed session=%s channel=%s, left pending for the bridge: %s",
                session_id,
                channel,
                error,
            )
            # The chosen channel is kept, so the bridge looks for (and posts) the thread there
            # even if labels or routes change before it retries.
            return SlackLink(state="pending", channel=channel)
