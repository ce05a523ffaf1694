"""Customer satisfaction after a handoff: one question, asked in the chat once the handoff is
resolved, answered (or not) with the customer's next message. Pure.

The question goes out in the agent's voice through the chat the customer already uses (the
support page or the official widget: no form to build in either), and the answer is the next
message: "4", "5 - quick and kind", "3/5 took a while", "★★★★". Anything else is the customer
carrying on: the question is dropped and the AI answers them as ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUESTION = (
    "Before you go: how would you rate the help you got today, from 1 (poor) to 5 (excellent)? "
    "You can add a comment after the number, or just carry on with your question."
)
THANKS = "Thank you for your feedback. Is there anything else I can help you with?"
COMMENT_LIMIT = 1000

_RATING = re.compile(
    r"^\s*(?P<rating>[1-5])(?:\s*(?:/|out of|of)\s*5)?(?!\d)(?:[\s,.:;!)\-–—]+(?P<comment>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
_STARS = re.compile(r"^\s*(?P<stars>[★⭐]{1,5})(?:\s+(?P<comment>.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Rating:
    rating: int  # 1 to 5
    comment: str


def parse_rating(message: str) -> Rating | None:
    """The rating in an answer to QUESTION, or None if the message is not one."""
    if match := _RATING.match(message):
        return Rating(int(match["rating"]), _comment(match["comment"]))
    if match := _STARS.match(message):
        return Rating(len(match["stars"]), _comment(match["comment"]))
    return None


def _comment(text: str | None) -> str:
    return " ".join((text or "").split())[:COMMENT_LIMIT]
