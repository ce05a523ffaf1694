"""Why the AI could not finish: the operator's tag on resolve, kept in the handoff record. Pure.

The tag (one of a few kinds, so handoffs can be counted by it) and, optionally, the answer the
AI should have given are what a supervisor later turns into a guideline or a glossary term
(handoff/learned.py, the dashboard's learning page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

# Long enough for a full answer to the customer; short enough for a Slack input and a prompt.
ANSWER_LIMIT = 2000


# (str, Enum) as written, like ReasonCategory: str() of a member stays what it was.
class Why(str, Enum):  # noqa: UP042
    MISSING_KNOWLEDGE = "missing_knowledge"
    NEEDS_AUTHORITY = "needs_authority"
    CUSTOMER_PREFERENCE = "customer_preference"
    AI_MISTAKE = "ai_mistake"
    OTHER = "other"

    @property
    def label(self) -> str:
        return WHY_LABELS[self]


WHY_LABELS: Mapping[Why, str] = {
    Why.MISSING_KNOWLEDGE: "Missing knowledge",
    Why.NEEDS_AUTHORITY: "Needs a person's authority",
    Why.CUSTOMER_PREFERENCE: "Customer preferred a person",
    Why.AI_MISTAKE: "AI mistake",
    Why.OTHER: "Other",
}


@dataclass(frozen=True)
class ResolveTag:
    why: Why
    answer: str  # the answer the AI should have given; may be empty


class InvalidTag(ValueError):
    """The tag cannot be stored; the message says what to change."""


def tag_problem(why: str | None, answer: str) -> str | None:
    """Why this cannot be a resolve tag, in words for the operator; None when it can."""
    if not why:
        return "Choose why the AI could not finish."
    if why not in {w.value for w in Why}:
        return f"Unknown reason {why[:40]!r}; choose one of the listed reasons."
    if len(answer.strip()) > ANSWER_LIMIT:
        return f"Keep the answer to {ANSWER_LIMIT:,} characters (it has {len(answer.strip()):,})."
    return None


def resolve_tag(why: str | None, answer: str = "") -> ResolveTag:
    """The tag, or InvalidTag saying what to change."""
    problem = tag_problem(why, answer)
    if problem:
        raise InvalidTag(problem)
    return ResolveTag(Why(str(why)), answer.strip())


def tag_entry(tag: ResolveTag, operator: Mapping[str, str], now: str) -> dict[str, Any]:
    """The tag as the record keeps it (`learning`): who tagged it and when."""
    return {
        "why": tag.why.value,
        "answer": tag.answer,
        "by": {"id": str(operator.get("id", "")), "name": str(operator.get("name", ""))},
        "at": now,
    }


def read_tag(record: Mapping[str, Any] | None) -> ResolveTag | None:
    """The record's tag, re-checked (metadata can be written by anyone with the operator
    token); None when the handoff was resolved without one."""
    raw = (record or {}).get("learning")
    if not isinstance(raw, Mapping):
        return None
    try:
        why = Why(str(raw.get("why")))
    except ValueError:
        return None
    answer = raw.get("answer")
    return ResolveTag(why, answer[:ANSWER_LIMIT] if isinstance(answer, str) else "")
