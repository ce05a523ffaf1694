"""What operators see of the bridge's work on their own messages: reactions, thread notes and
private (ephemeral) notes. All through `SlackCaller`, so pacing and 429s apply; a failure to
tell is logged, never raised: the action it reports on already happened or was refused.

reactions.add is a Tier 3 method: about 50 a minute for the whole workspace, where a busy
hour delivers hundreds of replies a minute. The ✅ of a delivered reply takes a share of that
allowance shared by every replica and is left off when it is spent (counted in the metrics);
⚠️ and ⏳ always go. No reaction waits out a 429: each is made once (a 429 is logged), because
they are made while a reply's delivery holds its session's turn, and waiting out reactions.remove's
Tier 2 allowance (20 a minute) there held the next replies of the session for minutes in the
busy-hour bench. ⚠️ and ⏳ come with a note saying the same (in the thread or privately)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bridge import metrics, notices
from slack_kit import pacing
from slack_kit.pacing import MethodBudget, PostSlots
from slack_kit.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    not_looked_up,
)

log = logging.getLogger(__name__)

DELIVERED = "white_check_mark"
PENDING = "hourglass_flowing_sand"
FAILED = "warning"
HELD = "raised_hand"  # an `ai:` reply the agent would not send in its name
# The ✅'s share of reactions.add's Tier 3 allowance (50 a minute), the rest kept for ⚠️ and ⏳.
DELIVERED_PER_MINUTE = 40
DELIVERED_BURST = 10


class Feedback:
    def __init__(self, caller: SlackCaller, slots: PostSlots) -> None:
        self._caller = caller
        self._delivered = MethodBudget(
            slots, "reactions.add", DELIVERED_PER_MINUTE, DELIVERED_BURST
        )

    async def delivered(self, channel: str, ts: str) -> None:
        """✅ on a reply stored in Parlant, if reactions.add's allowance has room now."""
        if not await self._delivered.try_take():
            metrics.reaction_skipped()
            log.info("delivered reaction left off (reactions.add allowance spent) slack_ts=%s", ts)
            return
        await self.react(channel, ts, DELIVERED)

    async def react(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._caller.call(
                "reactions.add", attempts=1, channel=channel, timestamp=ts, name=name
            )
        except SlackRejected as error:
            if error.error != "already_reacted":
                log.warning("reaction %s failed slack_ts=%s: %s", name, ts, error)
        except SlackUnavailable as error:
            log.warning("reaction %s failed slack_ts=%s: %s", name, ts, error)

    async def unreact(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._caller.call(
                "reactions.remove", attempts=1, channel=channel, timestamp=ts, name=name
            )
        except (SlackRejected, SlackUnavailable) as error:
            log.debug("removing reaction %s failed slack_ts=%s: %s", name, ts, error)

    async def thread_note(self, channel: str, thread_ts: str, text: str) -> None:
        """A note in the thread, paced with the channel's other posts; not looked up after a
        lost answer (a note may be missing, never the reply it is about)."""

        try:
            await self._caller.post_message(
                not_looked_up,
                priority=pacing.FIRST,  # operators act on these: before the mirrors waiting
                channel=channel,
                thread_ts=thread_ts,
                text=text,
            )
        except (SlackRejected, SlackUnavailable, AnswerLost) as error:
            log.warning("thread note failed thread_ts=%s: %s", thread_ts, error)

    async def tell(
        self,
        channel: str,
        user: str,
        thread_ts: str | None,
        text: str,
        take_over_session: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """A note only `user` sees, with a Take over button when `take_over_session` is given,
        or the given `blocks`."""
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            params["thread_ts"] = thread_ts
        if take_over_session:
            params["blocks"] = notices.take_over_prompt(text, take_over_session)
        elif blocks:
            params["blocks"] = blocks
        try:
            await self._caller.call("chat.postEphemeral", **params)
        except (SlackRejected, SlackUnavailable) as error:
            log.warning("ephemeral message failed user=%s: %s", user, error)
