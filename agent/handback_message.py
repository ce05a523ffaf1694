"""An operator's handback note turned into words for the customer: a pure function.

The note is written for the AI ("Refund approved for Alice; she may ask about payment timing"):
it names the customer in the third person and may carry hints meant only for the AI. Offline,
with no model to rephrase it, the customer hears the note's outcome addressed to them ("refund
approved for you"), and every part that speaks about them in the third person stays with the AI.
"""

from __future__ import annotations

import re

NOTHING_TO_PASS_ON = "everything on their side is done"

# A part of the note that talks about the customer, not to them: for the AI only.
_THIRD_PERSON = re.compile(
    r"\b(she|he|her|him|his|hers|herself|himself|the customer|customer's|customer)\b",
    re.IGNORECASE,
)
_PARTS = re.compile(r"(?<=[.!?])\s+|\s*;\s*|\s*\n\s*")


def _name_forms(customer_name: str) -> list[str]:
    """The customer's full name first, then each of its words (a first name alone)."""
    words = [w for w in customer_name.split() if len(w) > 1]
    return [customer_name.strip(), *words] if customer_name.strip() else []


def _addressed(part: str, customer_name: str) -> str | None:
    """`part` speaking to the customer, or None when it can only be about them."""
    for name in _name_forms(customer_name):
        # "approved for Alice" is an outcome for her: "approved for you".
        part = re.sub(
            rf"\b(for|to|with|by)\s+{re.escape(name)}\b", r"\1 you", part, flags=re.IGNORECASE
        )
    if _THIRD_PERSON.search(part):
        return None
    if any(
        re.search(rf"\b{re.escape(n)}\b", part, re.IGNORECASE) for n in _name_forms(customer_name)
    ):
        return None  # the customer as the subject ("Alice was angry"): a remark for the AI
    return part


def for_the_customer(note: str, customer_name: str) -> str:
    """What the customer is told of `note`: its parts addressed to them, first letter lowered
    to follow a colon, ending in a full stop; the AI-only parts left out."""
    parts = [p.strip().rstrip(".!") for p in _PARTS.split(note) if p.strip()]
    kept = [a for p in parts if (a := _addressed(p, customer_name))]
    if not kept:
        return NOTHING_TO_PASS_ON + "."
    text = "; ".join(kept)
    if text[1:2].islower():  # "Refund approved" after a colon; "POL-1001 renewed" stays
        text = text[:1].lower() + text[1:]
    return text + "."
