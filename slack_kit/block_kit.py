"""Block Kit building blocks: sections, plain text, headers and buttons. Pure."""

from __future__ import annotations

from typing import Any

from slack_kit.text import HEADER_TEXT_LIMIT, one_line, strip_bidi_controls, truncate

Block = dict[str, Any]
# A message as Slack takes it: the fallback text (notifications, old clients) and the blocks.
SlackMessage = tuple[str, list[Block]]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def header(text: str) -> Block:
    # plain_text is never parsed for mentions or links, so it needs no entity escaping.
    safe = strip_bidi_controls(one_line(text))
    return {"type": "header", "text": plain(truncate(safe, HEADER_TEXT_LIMIT))}


def button(label: str, action_id: str, session_id: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(label),
        "action_id": action_id,
        "value": session_id,
    }
    if style:
        element["style"] = style
    return element
