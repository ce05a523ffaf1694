"""Who an operator is: Slack display names and guest status (users.info, cached), the reply
prefixes, and the one gate deciding who may act on escalations from Slack."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from handoff.actions import Operator
from slack_bridge.store import BridgeStore, ReplyKind
from slack_kit.settings import SlackSettings
from slack_kit.slack_api import SlackCaller, SlackRejected, SlackUnavailable

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


@dataclass(frozen=True)
class Person:
    """What the bridge needs to know of a Slack user."""

    name: str
    # A multi- or single-channel guest (users.info is_restricted / is_ultra_restricted); None
    # when Slack could not be asked and nothing was cached.
    is_guest: bool | None


class DisplayNames:
    def __init__(self, caller: SlackCaller) -> None:
        self._caller = caller
        self._cache: dict[str, tuple[Person, float]] = {}

    async def name_of(self, user_id: str) -> str:
        return (await self.person(user_id)).name

    async def person(self, user_id: str) -> Person:
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[1] < NAME_TTL_S:
            return cached[0]
        try:
            user = (await self._caller.call("users.info", user=user_id)).get("user", {})
        except (SlackUnavailable, SlackRejected) as error:
            log.warning("users.info failed user=%s: %s", user_id, error)
            return cached[0] if cached else Person(user_id, None)
        profile = user.get("profile", {})
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        person = Person(
            str(name), bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
        )
        self._cache[user_id] = (person, time.monotonic())
        return person


def slack_operator(user_id: str, name: str) -> Operator:
    """A Slack user as the shared actions know operators."""
    return Operator(id=f"slack:{user_id}", name=name, origin="slack")


class OperatorGate:
    """Who may act on escalations from Slack: one check for replies and for buttons."""

    def __init__(self, slack: SlackSettings, store: BridgeStore, names: DisplayNames) -> None:
        self._slack = slack
        self._store = store
        self._names = names

    async def is_operator(self, user_id: str) -> bool:
        """Only those listed in SLACK_OPERATOR_IDS when it is set; else every full member of the
        workspace: Slack guests (invited to a channel or two, often from outside the insurer)
        never answer customers. A user Slack could not tell us about is refused too; they are
        told, and may write again."""
        if self._slack.operator_ids:
            return user_id in self._slack.operator_ids
        return (await self._names.person(user_id)).is_guest is False

    async def refusal(self, user_id: str, channel: str, session_id: str) -> str | None:
        """Why a button click or form is refused, or None: the click must come from an
        escalation channel (or the session's own thread) and from an operator."""
        thread = await self._store.thread_for_session(session_id)
        if channel not in self._slack.routes.channels and (
            thread is None or thread.channel != channel
        ):
            return "This button does not belong to an escalation channel."
        if not await self.is_operator(user_id):
            return "You are not on this workspace's list of support operators."
        return None

    async def operator(self, user_id: str) -> Operator:
        return slack_operator(user_id, await self._names.name_of(user_id))
