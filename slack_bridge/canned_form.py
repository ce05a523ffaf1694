"""Canned replies in Slack, pure: the search form a message shortcut opens in an escalation
thread, the options it lists, what a submission chose, and the thread post that shows what
was sent.

The form's one field is an `external_select`: Slack asks the bridge for options as the
operator types (a `block_suggestion`, answered in the ack within 3 s), so the list always
shows the replies supervisors keep now, searched by the agent. `min_query_length` 0: the list
loads as soon as the menu opens, without typing (Slack's default waits for 3 characters).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_kit.block_kit import Block, SlackMessage, plain
from slack_kit.masking import Masker
from slack_kit.text import escape_mrkdwn

SHORTCUT_CANNED = "canned_reply"
VIEW_CANNED = "canned_reply_send"
PICK_BLOCK = "canned_pick"
PICK_ACTION = "canned_reply_search"
CANNED_EVENT_TYPE = "insurance_canned_reply"
# Block Kit: at most 100 options, each text 75 characters and value 150.
MOST_OPTIONS = 100
OPTION_TEXT = 75
# A section's text is at most 3,000 characters; a canned reply is at most 3,000 (the agent's
# agent/canned_text.py), less the quote marks.
SHOWN_LIMIT = 2900


@dataclass(frozen=True)
class CannedTarget:
    """The escalation thread a canned reply goes to."""

    session_id: str
    channel: str
    thread_ts: str


def search_modal(target: CannedTarget) -> Block:
    return {
        "type": "modal",
        "callback_id": VIEW_CANNED,
        "private_metadata": json.dumps(
            {
                "session_id": target.session_id,
                "channel": target.channel,
                "thread_ts": target.thread_ts,
            }
        ),
        "title": plain("Canned reply"),
        "submit": plain("Send to customer"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": PICK_BLOCK,
                "label": plain("Saved reply"),
                "hint": plain(
                    "Search by title, category or text. {customer_name}, {first_name} and "
                    "{policy_number} are filled from this customer's record; it goes to the "
                    "customer from you."
                ),
                "element": {
                    "type": "external_select",
                    "action_id": PICK_ACTION,
                    "min_query_length": 0,
                    "placeholder": plain("Type to search"),
                },
            }
        ],
    }


def option_text(title: str, category: str) -> str:
    text = f"{title} · {category}" if category else title
    return text if len(text) <= OPTION_TEXT else text[: OPTION_TEXT - 1] + "…"


def options(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The menu's options from the agent's list: the title (and category), the reply's id."""
    return [
        {
            "text": plain(option_text(str(item["title"]), str(item.get("category") or ""))),
            "value": str(item["id"]),
        }
        for item in list(items)[:MOST_OPTIONS]
    ]


def chosen(view: Mapping[str, Any]) -> tuple[CannedTarget, str | None] | None:
    """(the thread, the chosen reply's id or None) from a submitted form; None if not ours."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        target = CannedTarget(str(meta["session_id"]), str(meta["channel"]), str(meta["thread_ts"]))
    except (ValueError, TypeError, KeyError):
        return None
    values = ((view.get("state") or {}).get("values") or {}).get(PICK_BLOCK) or {}
    option = (values.get(PICK_ACTION) or {}).get("selected_option") or {}
    value = option.get("value")
    return target, str(value) if value else None


def sent_post(user_id: str, title: str, text: str, masker: Masker) -> SlackMessage:
    """The thread post of a canned reply on its way to the customer: who chose which, and the
    text as filled. Its reactions then say what became of it, as on an operator's own reply."""
    shown = masker.mask(text)[:SHOWN_LIMIT]
    line = f":clipboard: Canned reply *{escape_mrkdwn(title)}* from <@{user_id}> to the customer:"
    return f"Canned reply from <@{user_id}>: {escape_mrkdwn(shown)}", [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]},
        # Plain text: what the operator reads is what the customer gets.
        {"type": "section", "text": plain(shown or "-")},
    ]


def canned_metadata(session_id: str, view_id: str) -> dict[str, Any]:
    return {
        "event_type": CANNED_EVENT_TYPE,
        "event_payload": {"session_id": session_id, "view_id": view_id},
    }
