"""Canned replies' text, pure: what a saved reply may hold and how its placeholders are filled.

A placeholder is a name in braces, `{customer_name}`. Every pair of braces is one: a reply is
short prose to a customer, where a literal brace has no use, and a typo (`{customer name}`)
must be refused when the reply is saved rather than reach a customer as written. A reply is
sent whole or not at all: one placeholder without a value and nothing is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# What a supervisor may write, and where each value comes from (agent/canned_route.py).
PLACEHOLDERS: dict[str, str] = {
    "customer_name": "the customer's full name",
    "first_name": "the first word of the customer's name",
    "policy_number": "the customer's policy number",
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# A title is one option of Slack's search list (plain text, 75 characters at most, the
# category shown after it); a body fits one section of the thread post and the modal's preview.
TITLE_LIMIT = 60
CATEGORY_LIMIT = 30
BODY_LIMIT = 3000


@dataclass(frozen=True)
class Filled:
    """A reply with its placeholders filled, or what kept it from being filled."""

    text: str | None
    missing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def problem(self) -> str | None:
        """Why nothing can be sent, in words for the operator; None when `text` is whole."""
        if self.unknown:
            return (
                "This reply has placeholders the agent does not know: "
                f"{_braced(self.unknown)}. Ask a supervisor to fix it in the dashboard."
            )
        if self.missing:
            wanted = "; ".join(PLACEHOLDERS[name] for name in self.missing)
            return (
                f"Not sent: nothing on this customer's record fills {_braced(self.missing)} "
                f"({wanted}). Write the reply yourself."
            )
        return None


def _braced(names: tuple[str, ...]) -> str:
    return ", ".join("{" + name + "}" for name in names)


def placeholders(body: str) -> tuple[str, ...]:
    """Every placeholder name in `body`, once each, in the order they first appear."""
    names = [match.group(1).strip() for match in _PLACEHOLDER.finditer(body)]
    return tuple(dict.fromkeys(names))


def unknown_placeholders(body: str) -> tuple[str, ...]:
    return tuple(name for name in placeholders(body) if name not in PLACEHOLDERS)


def first_name(full_name: str | None) -> str | None:
    words = (full_name or "").split()
    return words[0] if words else None


def customer_values(name: str | None, policy_number: str | None) -> dict[str, str | None]:
    """The value of each placeholder for one customer; None where the record has none."""
    name = " ".join((name or "").split()) or None
    return {
        "customer_name": name,
        "first_name": first_name(name),
        "policy_number": (policy_number or "").strip() or None,
    }


def fill(body: str, values: Mapping[str, str | None]) -> Filled:
    """`body` with each placeholder replaced by its value; no text when any is unknown or has
    no value."""
    unknown = unknown_placeholders(body)
    missing = tuple(
        name for name in placeholders(body) if name in PLACEHOLDERS and not values.get(name)
    )
    if unknown or missing:
        return Filled(None, missing, unknown)
    # One pass over the original: a value that itself holds braces is not filled again.
    text = _PLACEHOLDER.sub(lambda match: str(values[match.group(1).strip()]), body)
    return Filled(text)


def matches(query: str, *fields: str) -> bool:
    """Whether every word of `query` is in one of `fields`, ignoring case (the search box)."""
    haystack = " ".join(fields).casefold()
    return all(word in haystack for word in query.casefold().split())


def reply_problem(title: object, body: object, category: object) -> str | None:
    """Why a canned reply cannot be saved, in words for the supervisor; None when it can."""
    if not isinstance(title, str) or not title.strip():
        return "Give the reply a title: operators search for it by its title."
    if len(title.strip()) > TITLE_LIMIT:
        return f"Keep the title to {TITLE_LIMIT} characters (it has {len(title.strip())})."
    if not isinstance(body, str) or not body.strip():
        return "Write the reply's text."
    if len(body.strip()) > BODY_LIMIT:
        return f"Keep the text to {BODY_LIMIT:,} characters (it has {len(body.strip()):,})."
    if not isinstance(category, str):
        return "The category must be text (or left empty)."
    if len(category.strip()) > CATEGORY_LIMIT:
        return f"Keep the category to {CATEGORY_LIMIT} characters."
    unknown = unknown_placeholders(body)
    if unknown:
        known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        return f"Unknown placeholder {_braced(unknown)}: use {known}."
    return None
