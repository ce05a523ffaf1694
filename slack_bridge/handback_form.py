"""The handback form (Return to AI) and the thread's record of a handback. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff.actions import HANDBACK_NOTE_LIMIT
from slack_kit.block_kit import Block, SlackMessage, plain, section
from slack_kit.text import MAX_BLOCKS, NAME_LIMIT, SECTION_TEXT_LIMIT, clip, split_for_slack

VIEW_HANDBACK = "escalation_handback"
HANDBACK_BLOCK = "handback_note"
HANDBACK_INPUT = "note"


@dataclass(frozen=True)
class HandbackTarget:
    """Which escalation a handback form belongs to, carried in the modal's private_metadata."""

    session_id: str
    channel: str
    thread_ts: str


def handback_modal(target: HandbackTarget) -> Block:
    """The form Return to AI opens: one required note, which the AI continues from."""
    return {
        "type": "modal",
        "callback_id": VIEW_HANDBACK,
        "private_metadata": json.dumps(
            {
                "session_id": target.session_id,
                "channel": target.channel,
                "thread_ts": target.thread_ts,
            }
        ),
        "title": plain("Return to AI"),
        "submit": plain("Return to AI"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": HANDBACK_BLOCK,
                "label": plain("Handback note for the AI"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": HANDBACK_INPUT,
                    "multiline": True,
                    "max_length": HANDBACK_NOTE_LIMIT,
                    "placeholder": plain("What was done, and what the customer should hear next"),
                },
                "hint": plain(
                    "The AI answers the customer's next message from this note, "
                    "so the customer may hear what it says."
                ),
            }
        ],
    }


def handback_target(view: Mapping[str, Any]) -> HandbackTarget | None:
    """The escalation a submitted handback form names; None if its metadata is not ours."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        return HandbackTarget(str(meta["session_id"]), str(meta["channel"]), str(meta["thread_ts"]))
    except (ValueError, TypeError, KeyError):
        return None


def handback_note(view: Mapping[str, Any]) -> str:
    """The note typed into a submitted handback form."""
    values = ((view.get("state") or {}).get("values") or {}).get(HANDBACK_BLOCK) or {}
    return str((values.get(HANDBACK_INPUT) or {}).get("value") or "")


def handback_posted(operator_name: str, note: str) -> SlackMessage:
    """The thread's record of a handback: who handed back and the note the AI received."""
    who = clip(operator_name, NAME_LIMIT) or "an operator"
    heading = f":robot_face: Handed back to the AI by {who}:"
    # Escaping can make a short note several times longer: split it over sections, one message.
    parts = split_for_slack(note, limit=SECTION_TEXT_LIMIT, max_parts=MAX_BLOCKS - 1)
    return f"{heading} {parts[0]}", [section(heading), *(section(part) for part in parts)]
