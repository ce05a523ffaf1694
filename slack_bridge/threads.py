"""The escalation thread's root message: posted once (when the handoff tool could not), and
rewritten in place whenever the handoff record changes (claim, return, resolve)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from parlant.client import AsyncParlantClient
from parlant.client.types import SessionMetadataUpdateParams

from handoff.record import METADATA_KEY, HandoffRecord, read_record, with_slack_link
from slack_bridge import blocks
from slack_bridge.escalation import post_root_message
from slack_bridge.masking import Masker
from slack_bridge.mirror import HANDOFF_TOOL
from slack_bridge.routing import Routes
from slack_bridge.slack_api import SlackCaller
from slack_bridge.state import BridgeStore, ThreadLink

log = logging.getLogger(__name__)

RECENT_MESSAGES = 5


def record_fingerprint(record: HandoffRecord) -> str:
    shown = {k: v for k, v in record.items() if k != "slack"}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


async def recent_before_handoff(parlant: AsyncParlantClient, session_id: str) -> tuple[tuple[str, str], ...]:
    events = await parlant.sessions.list_events(session_id, kinds="message,tool", wait_for_data=0)
    handoff_at = len(events)
    for index, event in enumerate(events):
        calls = (event.data or {}).get("tool_calls", []) if event.kind == "tool" else []
        if any(str(c.get("tool_id", "")).endswith(HANDOFF_TOOL) for c in calls):
            handoff_at = index
    messages = [e for e in events[:handoff_at] if e.kind == "message"][-RECENT_MESSAGES:]
    return tuple(
        (
            blocks.speaker_label(
                e.source, (e.data.get("participant") or {}).get("display_name"), None, None
            ),
            str(e.data.get("message", "")),
        )
        for e in messages
    )


class RootMessages:
    def __init__(
        self,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        routes: Routes,
        dashboard_url: str,
        masker: Masker,
    ) -> None:
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._routes = routes
        self._dashboard_url = dashboard_url
        self._masker = masker

    async def _view(self, session: Any, record: HandoffRecord) -> blocks.EscalationView:
        customer = await self._parlant.customers.retrieve(session.customer_id)
        recent = await recent_before_handoff(self._parlant, session.id)
        return blocks.escalation_view(
            session.id, customer.name, dict(record), recent, self._dashboard_url, masker=self._masker
        )

    async def post_pending(self, session: Any, record: HandoffRecord) -> ThreadLink:
        """Open the thread the handoff tool could not; finds it instead if that post did land."""
        channel = self.channel_for(session, record)
        link = await post_root_message(self._caller, channel, await self._view(session, record))
        latest = read_record((await self._parlant.sessions.retrieve(session.id)).metadata) or record
        await self._parlant.sessions.update(
            session.id,
            metadata=SessionMetadataUpdateParams(set_={METADATA_KEY: dict(with_slack_link(latest, link))}),
        )
        self._store.link_thread(session.id, link["channel"], link["ts"])
        self._store.set_root_rendering(session.id, record_fingerprint(latest))
        return ThreadLink(session.id, link["channel"], link["ts"])

    def channel_for(self, session: Any, record: HandoffRecord) -> str:
        """The channel the handoff tool chose (kept in the record even when its post failed),
        else the route: the same rules the tool applies."""
        chosen = (record.get("slack") or {}).get("channel")
        return chosen or self._routes.route(record, getattr(session, "labels", None) or ())

    async def refresh(self, session: Any, record: HandoffRecord, thread: ThreadLink) -> None:
        fingerprint = record_fingerprint(record)
        if self._store.root_rendering(session.id) == fingerprint:
            return
        text, root_blocks = blocks.root_message(await self._view(session, record))
        await self._caller.call(
            "chat.update",
            channel=thread.channel,
            ts=thread.ts,
            text=text,
            blocks=root_blocks,
            metadata=blocks.escalation_metadata(session.id),
        )
        self._store.set_root_rendering(session.id, fingerprint)
        log.info(
            "root message updated session=%s slack_ts=%s status=%s", session.id, thread.ts, record.get("status")
        )
