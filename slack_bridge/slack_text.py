"""An operator's Slack message as the customer should read it: pure, no I/O.

Slack delivers message text in its own wire format: `&`, `<` and `>` typed by a person arrive as
`&amp;`, `&lt;` and `&gt;`, and mentions and links arrive as `<@U123>`, `<#C123|name>`,
`<!here>` and `<https://example.com|example.com>`. Forwarded as is, the customer would read
entities and raw tokens.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"<([^<>\n]*)>")


def _token(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.startswith(("@", "#")):
        return target[0] + (label.lstrip(target[0]) or target[1:])
    if target.startswith("!"):
        # <!here>, <!channel>; <!subteam^S1|@team> and <!date^...|fallback> carry their text.
        return label or "@" + target[1:].split("^", 1)[0]
    if target.startswith("mailto:"):
        return label or target[len("mailto:") :]
    if not label or label in target:
        return label or target
    return f"{label} ({target})"


def plain_text(slack_text: str) -> str:
    """Mentions and links as a reader sees them in Slack, entities decoded (`&amp;` last)."""
    text = _TOKEN.sub(_token, slack_text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
