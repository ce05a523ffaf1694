"""The thread's "Handed back to the AI" line, posted once per handback, even across a crash.

The handback itself (Parlant's record and event) happens before the line is posted; a bridge
that dies in between would leave the thread silent. So the line is recorded like a mirrored
post (keyed by the handback event), and discovery calls `ensure` for returned sessions: the
latest handback from Slack whose line is not recorded is looked up in the thread by its
metadata, and posted only if it is not there.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from parlant.client import AsyncParlantClient

from handoff import actions
from slack_bridge import handback_form
from slack_bridge.mirror import find_mirrored_post
from slack_bridge.post_once import KeyedPostRecord, post_once
from slack_bridge.store import BridgeStore, ThreadLink
from slack_kit import metadata
from slack_kit.slack_api import SlackCaller

log = logging.getLogger(__name__)


class HandbackLines:
    def __init__(
        self, parlant: AsyncParlantClient, caller: SlackCaller, store: BridgeStore
    ) -> None:
        self._parlant = parlant
        self._caller = caller
        self._store = store
        # (session, returned_at) already confirmed in this process: no Parlant call again.
        self._confirmed: set[tuple[str, str]] = set()

    async def post(self, thread: ThreadLink, event_id: str, operator_name: str, note: str) -> None:
        """Post the line for handback `event_id` unless it is already in the thread."""
        session_id = thread.session_id
        text, line_blocks = handback_form.handback_posted(operator_name, note)
        posted = await post_once(
            self._caller,
            KeyedPostRecord(self._store, session_id, event_id, 0),
            partial(find_mirrored_post, self._caller, thread, event_id, 0),
            crash_after="handback.after_post",
            channel=thread.channel,
            thread_ts=thread.ts,
            text=text,
            blocks=line_blocks,
            # Marked as the handback event's post, so a retry after a lost answer finds it.
            metadata=metadata.mirror_metadata(session_id, event_id, 0),
            unfurl_links=False,
            unfurl_media=False,
        )
        if posted.now:
            log.info("handback line posted session=%s slack_ts=%s", session_id, posted.ts)

    async def ensure(self, thread: ThreadLink, returned_at: str) -> None:
        """After a restart: the line of the session's latest handback from Slack, if missing."""
        key = (thread.session_id, returned_at)
        if key in self._confirmed:
            return
        events = await self._parlant.sessions.list_events(
            thread.session_id, kinds="custom", wait_for_data=0
        )
        latest = _latest_slack_handback(events)
        if latest is not None:
            data = latest.data
            await self.post(
                thread,
                str(latest.id),
                str((data.get("operator") or {}).get("name", "")),
                str(data.get("note", "")),
            )
        self._confirmed.add(key)


def _latest_slack_handback(events: Any) -> Any | None:
    # Handbacks from the dashboard never had a thread line; only Slack's are completed here.
    for event in reversed(list(events)):
        data = event.data if isinstance(event.data, dict) else {}
        operator = data.get("operator") or {}
        if data.get("type") == actions.HANDBACK:
            return event if operator.get("origin") == "slack" else None
    return None
