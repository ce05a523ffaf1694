"""Who an operator is: Slack display names (users.info, cached) and the reply prefixes."""

from __future__ import annotations

import logging
import re
import time

from slack_bridge.state import ReplyKind
from slack_escalation.slack_api import SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

NAME_TTL_S = 3600
_PREFIX = re.compile(r"^\s*(ai|note)\s*:\s*", re.IGNORECASE)


def parse_reply(text: str) -> tuple[ReplyKind, str]:
    """`ai:` answers as the AI and `note:` is internal (any case; the prefix is removed)."""
    match = _PREFIX.match(text)
    if match is None:
        return "human", text.strip()
    kind: ReplyKind = "ai" if match.group(1).lower() == "ai" else "note"
    return kind, text[match.end() :].strip()


class DisplayNames:
    def __init__(self, caller: SlackCaller) -> None:
        self._caller = caller
        self._cache: dict[str, tuple[str, float]] = {}

    async def name_of(self, user_id: str) -> str:
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[1] < NAME_TTL_S:
            return cached[0]
        try:
            user = (await self._caller.call("users.info", user=user_id)).get("user", {})
        except (SlackUnavailable, SlackRejected) as error:
            log.warning("users.info failed user=%s: %s", user_id, error)
            return cached[0] if cached else user_id
        profile = user.get("profile", {})
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        self._cache[user_id] = (name, time.monotonic())
        return str(name)
