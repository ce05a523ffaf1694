"""What an operator may say in the agent's name (agent/ai_reply_rules.py): pure."""

from __future__ import annotations

import pytest

from agent.ai_reply_rules import NEVER_COMMIT, check_ai_reply

ALICE = {"own_policies": ["POL-1001"], "own_claims": ["CLM-0001"]}


@pytest.mark.parametrize(
    "message",
    [
        "Your claim CLM-0001 on policy POL-1001 is with an adjuster.",
        "You can reach us at +1-555-INSURE, Monday to Friday.",
        "An adjuster decides; approval is not guaranteed.",
        "We are looking into who is responsible for the damage.",
        "Your deductible is 500 dollars.",
    ],
)
def test_what_the_agent_would_say_passes(message: str) -> None:
    assert check_ai_reply(message, **ALICE) is None


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("The card 4242 4242 4242 4242 was charged.", "sensitive_data"),
        ("We have your date of birth as 1990-04-12.", "sensitive_data"),
        ("Call our adjuster directly on 555-123-4567.", "phone_number"),
        ("Policy POL-2001 covers this.", "foreign_policy_number"),
        ("I see claim clm-0002 is open.", "foreign_claim_number"),
        ("This is guaranteed approval, don't worry.", "guaranteed_approval"),
        ("Your claim WILL   DEFINITELY be approved.", "guaranteed_approval"),
        ("Honestly, it was our fault.", "admit_liability"),
        ("You will be paid by tomorrow.", "payment_date"),
    ],
)
def test_each_rule_holds_what_breaks_it(message: str, rule: str) -> None:
    hit = check_ai_reply(message, **ALICE)
    assert hit is not None and hit.rule == rule, hit
    assert hit.why


def test_a_guest_has_no_numbers_of_their_own() -> None:
    hit = check_ai_reply("Your policy POL-1001 is active.")
    assert hit is not None and hit.rule == "foreign_policy_number"


def test_own_numbers_match_however_they_are_written() -> None:
    assert check_ai_reply("policy pol 1001 and claim CLM0001", **ALICE) is None


def test_every_commitment_names_its_reason_and_is_caught_by_its_own_words() -> None:
    for commitment in NEVER_COMMIT:
        assert commitment.why
        for phrase in commitment.phrases:
            hit = check_ai_reply(f"Good news: {phrase.upper()}!")
            assert hit is not None and hit.rule == commitment.rule, phrase
