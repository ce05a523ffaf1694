"""A refusal the official widget can show: a session that exists only to say why. Pure.

The official widget (parlant-chat-react) creates a session when the customer sends their first
message, and when that call fails it shows nothing: no error, and the message it has already
cleared from the box is gone. What it does show is a session's messages, once the session was
created and the first message accepted. So a widget call (the token in the path) that must be
refused at its start is answered with a *refused session*: it is stored nowhere, its id says
why (`refused-<reason>-<unix seconds>[-<agent id>]`), and its one event is a message from the
agent's side that says why nothing was sent.

The widget posts the opening message and the customer's first message right after creating the
session; those posts are answered as accepted for a few seconds after the id's time, so the
widget opens the session and shows the reason. Later ones are refused (403 with the reason),
and the widget keeps their text in its box.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PREFIX = "refused-"
# How long after its creation a refused session's posts are answered as accepted: the widget
# posts its opening and first message at once, before it shows anything.
ACCEPT_POSTS_S = 15

REASONS: dict[str, str] = {
    "customer": (
        "Your message was not sent: this page started the chat for a different customer than "
        "the one signed in. Please reload the page or sign in again, then send it again."
    ),
}


@dataclass(frozen=True)
class RefusedSession:
    reason: str
    created_s: int
    agent_id: str

    @property
    def id(self) -> str:
        tail = f"-{self.agent_id}" if self.agent_id else ""
        return f"{PREFIX}{self.reason}-{self.created_s}{tail}"

    @property
    def text(self) -> str:
        return REASONS[self.reason]

    def accepts_posts_at(self, now_s: float) -> bool:
        return self.created_s <= now_s <= self.created_s + ACCEPT_POSTS_S


def refused_session(reason: str, now_s: float, agent_id: str, max_id_chars: int) -> RefusedSession:
    """A refused session for `reason` (a key of REASONS); the agent id is kept when it fits."""
    if reason not in REASONS:
        raise ValueError(f"no such refusal: {reason}")
    refused = RefusedSession(reason, int(now_s), agent_id)
    if len(refused.id) > max_id_chars:
        return RefusedSession(reason, int(now_s), "")
    return refused


def parse(session_id: str) -> RefusedSession | None:
    """The refused session `session_id` names, or None when it names none (a Parlant id)."""
    if not session_id.startswith(PREFIX):
        return None
    reason, _, rest = session_id[len(PREFIX) :].partition("-")
    created, _, agent_id = rest.partition("-")
    if reason not in REASONS or not (created.isascii() and created.isdigit()):
        return None
    if len(created) > 12:
        return None
    return RefusedSession(reason, int(created), agent_id)


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def session_view(refused: RefusedSession, customer_id: str) -> dict[str, Any]:
    """Parlant's SessionDTO for the refused session, as a customer's view of a session."""
    return {
        "id": refused.id,
        "agent_id": refused.agent_id,
        "customer_id": customer_id,
        "creation_utc": _utc(refused.created_s),
        "title": "Not started",
        "mode": "auto",
        "consumption_offsets": {"client": 0},
        "metadata": {},
        "labels": [],
    }


def notice_event(refused: RefusedSession, agent_name: str) -> dict[str, Any]:
    """Parlant's EventDTO of the refused session's one message: why nothing was sent."""
    return {
        "id": f"{refused.id}-notice",
        "source": "system",
        "kind": "message",
        "offset": 0,
        "creation_utc": _utc(refused.created_s),
        "trace_id": "",
        "correlation_id": f"{refused.id}-notice",
        "data": {
            "message": refused.text,
            "participant": {"display_name": agent_name, "role": "system"},
        },
        "metadata": {},
        "deleted": False,
    }
