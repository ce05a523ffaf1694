"""The form that edits a reply before it is sent in the agent's name: a held `ai:` reply
(*Edit* on the private note) and the agent's draft (*Edit and send*). Pure.

One form for both, its text field the same; what it belongs to rides in `private_metadata`,
and its `callback_id` says which of the two it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_kit.block_kit import Block, plain

VIEW_EDIT_HELD = "held_reply_edit"
EDIT_BLOCK = "ai_reply_text"
EDIT_INPUT = "text"
# Slack's limit for a plain_text_input; longer replies are edited by sending a new one.
INPUT_LIMIT = 3000
HINT_LIMIT = 150


def reply_edit_modal(
    callback_id: str, private_metadata: str, title: str, text: str, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": EDIT_BLOCK,
        "label": plain("Reply, sent in the agent's name"),
        "element": {
            "type": "plain_text_input",
            "action_id": EDIT_INPUT,
            "multiline": True,
            "max_length": INPUT_LIMIT,
            "initial_value": text[:INPUT_LIMIT],
        },
    }
    if hint:
        block["hint"] = plain(hint[:HINT_LIMIT])
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": plain(title),
        "submit": plain("Send as AI"),
        "close": plain("Cancel"),
        "blocks": [block],
    }


def typed_reply(view: Mapping[str, Any]) -> str:
    """The text in a submitted form."""
    values = ((view.get("state") or {}).get("values") or {}).get(EDIT_BLOCK) or {}
    return str((values.get(EDIT_INPUT) or {}).get("value") or "")


def edit_modal(reply_id: int, text: str, why: str) -> Block:
    """*Edit* on a held reply: its text, and why it was held."""
    return reply_edit_modal(
        VIEW_EDIT_HELD, str(reply_id), "Edit the AI's reply", text, f"Held because {why}"
    )


def edited_reply(view: Mapping[str, Any]) -> tuple[int, str] | None:
    """(the held reply's id, its edited text) from a submitted form; None if not ours."""
    try:
        reply_id = int(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    return reply_id, typed_reply(view)
