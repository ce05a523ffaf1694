"""Hiding sensitive details in the Slack copy of a conversation: pure functions, no I/O.

Parlant keeps every message in full and the dashboard shows it to signed-in supervisors. Slack
is a wider audience (every channel member, search, exports, other installed apps), so what the
bridge and the handoff tool post there is masked first, and before it is escaped and split, so
a mask is never cut in two and never contains an entity.

Each kind keeps just enough for an operator to tell two values apart or to ask about one
("the card ending 4242"). Patterns are deliberately narrow: a claim id, an amount or an
incident date hidden by mistake would cost an operator more than the mask protects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MASK_KINDS = ("card", "dob", "policy", "email", "phone")
DEFAULT_MASK = "card,dob"
NO_MASK_SETTING = "none"
DOB_HIDDEN = "[date of birth hidden]"
DOT = "•"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}"  # ISO
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # d/m/y or m/d/y, either order
    rf"|{_DAY}(?:\s+of)?\s+{_MONTH},?\s+\d{{4}}"  # 14 March 1985, 14th of March 1985
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}})"  # March 14, 1985
)
_DATE_ONLY = re.compile(_DATE + r"\Z", re.IGNORECASE)
# "my date of birth is 14/03/1985", "DOB: 1985-03-14", "I was born on the 14th of March 1985".
# At most three words between the trigger and the date, and never a sentence end, so "born in
# 1985; the crash was on 2024-05-02" keeps the crash date.
_DOB = re.compile(
    r"(?P<lead>\b(?:date\s+of\s+birth|birth\s*date|birthday|born|d\.?o\.?b\b\.?)"
    r"(?:[^\w.!?\n]+\w+){0,3}?[^\w.!?\n]+)"
    rf"(?P<date>{_DATE})(?![\w/-])",
    re.IGNORECASE,
)
# 13 to 19 digits, optionally grouped by single spaces or dashes, not part of a longer number.
_CARD = re.compile(r"(?<![\w-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w-]|[ -]\d)")
_POLICY = re.compile(r"\bPOL[- ]?(?P<number>\d{3,})\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.(?P<tld>[a-z]{2,})\b", re.IGNORECASE)
# +44 20 7946 0958, (555) 123-4567, 555.123.4567, 07946 095812: 7 to 15 digits.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[\s.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d(?:[\s.-]?\d){6,14}"
    r"(?![\w]|[\s.-]\d)"
)


def luhn_valid(digits: str) -> bool:
    """The check digit every payment card number carries; random digit runs fail it 9 in 10."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _card(match: re.Match[str]) -> str:
    digits = _digits(match.group())
    return f"[card {DOT * 4}{digits[-4:]}]" if luhn_valid(digits) else match.group()


def _dob(match: re.Match[str]) -> str:
    return match.group("lead") + DOB_HIDDEN


def _policy(match: re.Match[str]) -> str:
    return f"[policy {DOT * 2}{match.group('number')[-2:]}]"


def _email(match: re.Match[str]) -> str:
    return f"{match.group()[0]}{DOT * 3}@{DOT * 3}.{match.group('tld')}"


def _phone(match: re.Match[str]) -> str:
    if _DATE_ONLY.match(match.group()):
        return match.group()  # 2024-05-02 and 02.05.2024 are dates, not phone numbers
    return f"[phone {DOT * 2}{_digits(match.group())[-2:]}]"


# Applied in this order whatever is switched on: an e-mail address may hold digits, a card
# number would pass for a long phone number, and a date of birth for a dotted one.
_RULES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    ("email", _EMAIL, _email),
    ("card", _CARD, _card),
    ("dob", _DOB, _dob),
    ("policy", _POLICY, _policy),
    ("phone", _PHONE, _phone),
)


@dataclass(frozen=True)
class Masker:
    kinds: frozenset[str]

    @classmethod
    def from_setting(cls, raw: str | None) -> Masker:
        """`SLACK_MASK`: a comma list of MASK_KINDS, "none", or empty for the default."""
        value = (raw or "").strip().lower() or DEFAULT_MASK
        if value == NO_MASK_SETTING:
            return cls(frozenset())
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in MASK_KINDS]
        if unknown:
            raise ValueError(
                f"unknown kind(s) {', '.join(unknown)}; set a comma list of "
                f"{', '.join(MASK_KINDS)}, or {NO_MASK_SETTING}"
            )
        return cls(frozenset(names))

    @classmethod
    def of(cls, kinds: Iterable[str]) -> Masker:
        return cls.from_setting(",".join(kinds) or NO_MASK_SETTING)

    def mask(self, text: str) -> str:
        for kind, pattern, replace in _RULES:
            if kind in self.kinds:
                text = pattern.sub(replace, text)
        return text
