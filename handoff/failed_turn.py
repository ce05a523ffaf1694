"""A failed AI turn, as the agent records it in the session (agent/ai_failure.py) and the
dashboard lists it (dashboard/views/failed_turns.py): one `custom` event of type
`ai_turn_failed` per failed turn, its session labelled `ai_failure` so the dashboard finds
those sessions without reading every session's events.

The event says why the turn failed and whether the session went to a person; never the
exception's text, which can quote a prompt and so a customer's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

AI_TURN_FAILED = "ai_turn_failed"
FAILED_TURN_LABEL = "ai_failure"


class FailureCause(StrEnum):
    NO_REPLY = "no_reply"  # the turn ended without a message
    DEADLINE = "deadline"  # AI_TURN_TIMEOUT_SECONDS passed
    MODEL_CALLS = "model_calls"  # AI_TURN_MAX_MODEL_CALLS spent
    ERROR = "error"  # the model or the engine raised

    @property
    def label(self) -> str:
        return {
            FailureCause.NO_REPLY: "no reply",
            FailureCause.DEADLINE: "deadline passed",
            FailureCause.MODEL_CALLS: "model calls spent",
            FailureCause.ERROR: "error",
        }[self]


@dataclass(frozen=True)
class FailedTurn:
    cause: FailureCause
    error: str | None  # the exception's type, for `error` (and the budget's, for the others)
    handed_off: bool

    def as_event_data(self) -> dict[str, Any]:
        return {
            "type": AI_TURN_FAILED,
            "cause": self.cause.value,
            "error": self.error,
            "handed_off": self.handed_off,
        }


def read_failed_turn(data: Any) -> FailedTurn | None:
    """The failed turn an event's data records; None for any other event's data."""
    if not isinstance(data, Mapping) or data.get("type") != AI_TURN_FAILED:
        return None
    try:
        cause = FailureCause(str(data.get("cause")))
    except ValueError:
        cause = FailureCause.ERROR
    error = data.get("error")
    return FailedTurn(
        cause=cause,
        error=str(error) if error else None,
        handed_off=data.get("handed_off") is True,
    )
