"""What an operator may say in the agent's name: the rules an `ai:` reply is checked against.

A reply sent "as the AI" reads to the customer as the insurer's assistant speaking, so it is held
to what the agent itself would say: no card numbers or dates of birth (the fields Slack masks),
no phone number but the glossary's, no policy or claim number but the customer's own, and none of
the commitments below, which the agent never makes. A hit is not sent; the operator sees which
rule and why, and may send it anyway (recorded with the event and in the log) or edit it.

Declared as data: a support team adds a commitment here, with the words that make it and why.
Pure: `check_ai_reply` reads only its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from slack_kit.masking import Masker


@dataclass(frozen=True)
class Commitment:
    rule: str
    phrases: tuple[str, ...]  # case-insensitive, whole words
    why: str


NEVER_COMMIT: tuple[Commitment, ...] = (
    Commitment(
        "guaranteed_approval",
        (
            "guaranteed approval",
            "guarantee approval",
            "guarantee your claim",
            "guarantee the claim",
            "will definitely be approved",
            "will certainly be approved",
            "is guaranteed to be approved",
            "100% covered",
        ),
        "the agent never promises a claim's outcome: an adjuster decides",
    ),
    Commitment(
        "admit_liability",
        (
            "admit liability",
            "we admit fault",
            "we are liable",
            "we accept liability",
            "it was our fault",
            "we take full responsibility",
        ),
        "the agent never admits liability: legal decides",
    ),
    Commitment(
        "payment_date",
        (
            "paid by tomorrow",
            "paid today",
            "payment will arrive on",
            "you will be paid on",
            "money will be in your account",
        ),
        "the agent never promises when a payment arrives: payments set the date",
    ),
)

# The glossary's number (agent/insurance.py, "Customer Service Number").
OUR_PHONE = "+1-555-INSURE"

_SENSITIVE = Masker.of(("card", "dob"))
_PHONES = Masker.of(("phone",))
_POLICY = re.compile(r"\bPOL[- ]?\d{3,}\b", re.IGNORECASE)
_CLAIM = re.compile(r"\bCLM[- ]?\d{3,}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    rule: str
    why: str


def _normal(number: str) -> str:
    return re.sub(r"[- ]", "-", number.upper()).replace("POL-", "POL").replace("CLM-", "CLM")


def check_ai_reply(
    message: str, own_policies: Collection[str] = (), own_claims: Collection[str] = ()
) -> Hit | None:
    """The first rule `message` breaks, or None."""
    if _SENSITIVE.mask(message) != message:
        return Hit(
            "sensitive_data",
            "it contains a card number or a date of birth, which are never written to a "
            "customer in the agent's name",
        )
    if _PHONES.mask(message) != message:
        return Hit(
            "phone_number",
            f"it gives a phone number; the agent gives only ours ({OUR_PHONE})",
        )
    own = {_normal(n) for n in [*own_policies, *own_claims]}
    for pattern, kind in ((_POLICY, "policy"), (_CLAIM, "claim")):
        for match in pattern.finditer(message):
            if _normal(match.group(0)) not in own:
                return Hit(
                    f"foreign_{kind}_number",
                    f"{match.group(0)} is not one of this customer's {kind} numbers",
                )
    folded = " ".join(message.casefold().split())
    for commitment in NEVER_COMMIT:
        for phrase in commitment.phrases:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded):
                return Hit(commitment.rule, f'"{phrase}": {commitment.why}')
    return None
