"""The resolve form (Resolve): why the AI could not finish and the answer it should have given
(handoff/learning.py). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff.learning import ANSWER_LIMIT, Why
from slack_kit.block_kit import Block, plain

VIEW_RESOLVE = "escalation_resolve_form"
WHY_BLOCK = "resolve_why"
WHY_INPUT = "why"
ANSWER_BLOCK = "resolve_answer"
ANSWER_INPUT = "answer"


@dataclass(frozen=True)
class ResolveTarget:
    """Which escalation a resolve form belongs to, carried in the modal's private_metadata."""

    session_id: str
    channel: str
    thread_ts: str


def resolve_modal(target: ResolveTarget) -> Block:
    """The form Resolve opens: the reason (required) and the answer (optional)."""
    return {
        "type": "modal",
        "callback_id": VIEW_RESOLVE,
        "private_metadata": json.dumps(
            {
                "session_id": target.session_id,
                "channel": target.channel,
                "thread_ts": target.thread_ts,
            }
        ),
        "title": plain("Resolve"),
        "submit": plain("Resolve"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": WHY_BLOCK,
                "label": plain("Why could the AI not finish?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": WHY_INPUT,
                    "options": [{"text": plain(why.label), "value": why.value} for why in Why],
                },
            },
            {
                "type": "input",
                "block_id": ANSWER_BLOCK,
                "optional": True,
                "label": plain("The answer the AI should have given"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ANSWER_INPUT,
                    "multiline": True,
                    "max_length": ANSWER_LIMIT,
                    "placeholder": plain("Optional: what the customer needed to hear"),
                },
                "hint": plain(
                    "Supervisors turn these into guidelines the AI follows "
                    "(the dashboard's Learning page). The customer does not see it."
                ),
            },
        ],
    }


def resolve_target(view: Mapping[str, Any]) -> ResolveTarget | None:
    """The escalation a submitted resolve form names; None if its metadata is not ours."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        return ResolveTarget(str(meta["session_id"]), str(meta["channel"]), str(meta["thread_ts"]))
    except (ValueError, TypeError, KeyError):
        return None


def _state(view: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any]:
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    state = values.get(action)
    return state if isinstance(state, Mapping) else {}


def resolve_why(view: Mapping[str, Any]) -> str | None:
    """The reason chosen in a submitted resolve form, if one was."""
    selected = _state(view, WHY_BLOCK, WHY_INPUT).get("selected_option")
    value = selected.get("value") if isinstance(selected, Mapping) else None
    return str(value) if value else None


def resolve_answer(view: Mapping[str, Any]) -> str:
    """The answer typed into a submitted resolve form; empty when none was."""
    return str(_state(view, ANSWER_BLOCK, ANSWER_INPUT).get("value") or "")
