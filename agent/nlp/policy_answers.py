"""A customer's question about their policy answered from the policy the tool returned.

Pure functions, no Parlant: the offline service uses them for follow-up questions ("What's my
deductible?", "is flood covered?") so each is answered from the policy data the agent fetched,
never with a generic line. Whether a loss is covered is read from the perils the policy names:
anything it does not name is said to be not named, and the customer is pointed to a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Words that say nothing about which peril is meant ("windscreen damage" is about windscreens).
_VAGUE_WORDS = frozenset(
    {"a", "an", "and", "the", "my", "our", "to", "of", "for", "from", "by", "in", "on", "with"}
    | {"damage", "damages", "damaged", "loss", "losses", "cover", "covered", "insurance"}
    | {"then", "too", "also", "really", "still", "any", "all", "is", "are", "it", "this", "that"}
)

# "is flood covered", "does my policy cover windscreen damage", "am I covered for theft".
_SUBJECT_PATTERNS = (
    re.compile(r"\b(?:is|are)\s+(?P<thing>[\w\s'-]+?)\s+covered\b", re.IGNORECASE),
    re.compile(
        r"\b(?:does|do|will|would)\s+(?:my\s+|the\s+)?(?:policy|insurance|it|this|that)"
        r"\s+cover\s+(?P<thing>[\w\s'-]+)",
        re.IGNORECASE,
    ),
    re.compile(r"\bcovered\s+(?:for|against)\s+(?P<thing>[\w\s'-]+)", re.IGNORECASE),
)
_LEADING_ARTICLE = re.compile(r"^(?:my|the|a|an|our)\s+", re.IGNORECASE)


def asked_about(question: str) -> str | None:
    """What the customer asks is covered ("flood" in "is flood covered?"), if they ask that."""
    for pattern in _SUBJECT_PATTERNS:
        match = pattern.search(question)
        if match:
            thing = _LEADING_ARTICLE.sub("", match.group("thing").strip())
            if _significant_words(thing):
                return thing
    return None


def coverage_parts(coverage: str) -> tuple[list[str], list[str]]:
    """The policy's coverage text split into what it names and what it excludes ("no …")."""
    parts = [p.strip() for p in re.split(r"[,;](?=\s)", coverage) if p.strip()]
    named = [p for p in parts if not p.lower().startswith("no ")]
    excluded = [p for p in parts if p.lower().startswith("no ")]
    return named, excluded


def _significant_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _VAGUE_WORDS]


def _mentions_any(part: str, words: list[str]) -> bool:
    return any(re.search(r"\b" + re.escape(w), part.lower()) for w in words)


def coverage_answer(thing: str, policy: Mapping[str, Any]) -> str:
    """Whether `thing` is among the perils the policy names, with those perils."""
    named, excluded = coverage_parts(str(policy.get("coverage", "")))
    words = _significant_words(thing)
    number = policy.get("policy_number", "")
    subject = thing[:1].upper() + thing[1:]
    if any(_mentions_any(part, words) for part in excluded):
        return f"{subject} is not covered: your policy {number} says {'; '.join(excluded)}."
    if any(_mentions_any(part, words) for part in named):
        return (
            f"{subject} is covered: your policy {number} names it ({', '.join(named)}); "
            f"your deductible of ${int(policy.get('deductible', 0)):,} applies."
        )
    return (
        f"{subject} is not among what your policy {number} names ({', '.join(named)}), so it "
        "is not covered by name. Ask for a person if you want your case looked at."
    )


def policy_answer(question: str, policy: Mapping[str, Any]) -> str | None:
    """The answer to `question` from `policy` (the policy tool's result data): its deductible,
    premium, renewal date, or whether a loss is covered; None when it asks none of these or
    there is no policy (a guest, an unknown customer)."""
    if not policy.get("found"):
        return None
    lowered = question.lower()
    answers = []
    if "deductible" in lowered:
        answers.append(f"Your deductible is ${int(policy.get('deductible', 0)):,}.")
    if "premium" in lowered:
        answers.append(f"Your premium is ${int(policy.get('premium', 0)):,} a year.")
    if re.search(r"\brenew", lowered):
        answers.append(f"Your policy renews on {policy.get('renews_on')}.")
    thing = asked_about(question)
    if thing:
        answers.append(coverage_answer(thing, policy))
    return " ".join(answers) or None
