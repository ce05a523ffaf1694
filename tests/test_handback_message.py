"""A handback note put to the customer offline (agent/handback_message.py), without a server."""

from __future__ import annotations

import pytest

from agent.handback_message import NOTHING_TO_PASS_ON, for_the_customer


@pytest.mark.parametrize(
    ("note", "told"),
    [
        (
            "Refund approved for Alice; she may ask about payment timing",
            "refund approved for you.",
        ),
        (
            "The windscreen repair is booked for Friday at 10am",
            "the windscreen repair is booked for Friday at 10am.",
        ),
        ("Calmed the customer; nothing else is open", "nothing else is open."),
        ("Sent the form to Alice Martin. Alice was upset.", "sent the form to you."),
        ("POL-2001 renewed early", "POL-2001 renewed early."),
        ("He is fine now", NOTHING_TO_PASS_ON + "."),
    ],
)
def test_the_customer_hears_the_outcome_addressed_to_them(note: str, told: str) -> None:
    assert for_the_customer(note, "Alice Martin") == told


def test_the_note_is_never_said_verbatim() -> None:
    note = "The windscreen repair is booked for Friday at 10am"
    assert note not in for_the_customer(note, "Sam Carter")
