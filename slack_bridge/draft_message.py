"""The draft under a customer message in a handoff's thread, and its form. Pure.

The draft is shown as plain text (no mrkdwn: what the operator reads is what the customer
would get, and what the buttons send is read back from the same block). A draft that masking
changed (a card number, a date of birth) or that is longer than one section shows only *Edit
and send*: what Slack shows is not what would be sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bridge.ai_reply_form import reply_edit_modal, typed_reply
from slack_kit.block_kit import Block, SlackMessage, button, plain
from slack_kit.masking import Masker

ACTION_DRAFT_SEND = "draft_send_as_ai"
ACTION_DRAFT_EDIT = "draft_edit"
ACTION_DRAFT_DISMISS = "draft_dismiss"
DRAFT_ACTIONS = (ACTION_DRAFT_SEND, ACTION_DRAFT_EDIT, ACTION_DRAFT_DISMISS)
DRAFT_BLOCK = "draft_text"
DRAFT_EVENT_TYPE = "insurance_draft"
# A section's text is at most 3,000 characters; a longer draft is shown cut, to edit.
SHOWN_LIMIT = 2900
VIEW_EDIT_DRAFT = "draft_edit"


def draft_message(draft: str, masker: Masker, session_id: str) -> SlackMessage:
    shown = masker.mask(draft)
    sendable = shown == draft and len(draft) <= SHOWN_LIMIT
    buttons = [
        *(
            [button("Send as AI", ACTION_DRAFT_SEND, session_id, style="primary")]
            if sendable
            else []
        ),
        button("Edit and send", ACTION_DRAFT_EDIT, session_id),
        button("Dismiss", ACTION_DRAFT_DISMISS, session_id),
    ]
    heading = ":memo: *Draft* (not sent): what the AI would answer. Only you and your team see it."
    blocks: list[Block] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": heading}]},
        {"type": "section", "block_id": DRAFT_BLOCK, "text": plain(shown[:SHOWN_LIMIT])},
        {"type": "actions", "elements": buttons},
    ]
    return f"Draft (not sent): {shown[:SHOWN_LIMIT]}", blocks


def draft_metadata(session_id: str, event_id: str) -> dict[str, Any]:
    return {
        "event_type": DRAFT_EVENT_TYPE,
        "event_payload": {"session_id": session_id, "for_event": event_id},
    }


def draft_text(message: Mapping[str, Any]) -> str | None:
    """The draft as shown, read back from a clicked draft message's blocks."""
    for block in message.get("blocks") or []:
        if block.get("block_id") == DRAFT_BLOCK:
            return str((block.get("text") or {}).get("text") or "")
    return None


def draft_outcome(user_id: str, outcome: str, text: str) -> SlackMessage:
    """The draft message once an operator decided: who, what, and the text (no buttons)."""
    said = {
        "sent": "sent as the AI",
        "edited": "edited and sent as the AI",
        "dismissed": "dismissed",
    }[outcome]
    line = f":memo: Draft {said} by <@{user_id}>."
    return line, [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]},
        {"type": "section", "block_id": DRAFT_BLOCK, "text": plain(text[:SHOWN_LIMIT] or "-")},
    ]


@dataclass(frozen=True)
class DraftTarget:
    session_id: str
    channel: str
    draft_ts: str
    thread_ts: str


def edit_modal(target: DraftTarget, text: str) -> Block:
    metadata = json.dumps(
        {
            "session_id": target.session_id,
            "channel": target.channel,
            "draft_ts": target.draft_ts,
            "thread_ts": target.thread_ts,
        }
    )
    return reply_edit_modal(VIEW_EDIT_DRAFT, metadata, "Edit the draft", text)


def edited_draft(view: Mapping[str, Any]) -> tuple[DraftTarget, str] | None:
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        target = DraftTarget(
            str(meta["session_id"]),
            str(meta["channel"]),
            str(meta["draft_ts"]),
            str(meta["thread_ts"]),
        )
    except (ValueError, TypeError, KeyError):
        return None
    return target, typed_reply(view)
