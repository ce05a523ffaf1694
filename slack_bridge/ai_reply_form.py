"""The form *Edit* opens on a held `ai:` reply: its text, to change and send again. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_escalation.block_kit import Block, plain

VIEW_EDIT_HELD = "held_reply_edit"
EDIT_BLOCK = "held_reply_text"
EDIT_INPUT = "text"
# Slack's limit for a plain_text_input; longer replies are edited by sending a new one.
INPUT_LIMIT = 3000


def edit_modal(reply_id: int, text: str, why: str) -> Block:
    return {
        "type": "modal",
        "callback_id": VIEW_EDIT_HELD,
        "private_metadata": str(reply_id),
        "title": plain("Edit the AI's reply"),
        "submit": plain("Send as AI"),
        "close": plain("Cancel"),
        "blocks": [
            {
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
                "hint": plain(f"Held because {why}"[:150]),
            }
        ],
    }


def edited_reply(view: Mapping[str, Any]) -> tuple[int, str] | None:
    """(the held reply's id, its edited text) from a submitted form; None if not ours."""
    try:
        reply_id = int(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    values = ((view.get("state") or {}).get("values") or {}).get(EDIT_BLOCK) or {}
    return reply_id, str((values.get(EDIT_INPUT) or {}).get("value") or "")
