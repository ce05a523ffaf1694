"""Policy questions answered from the policy's data (agent/nlp/policy_answers.py), without a server."""

from __future__ import annotations

import pytest

from agent.nlp.policy_answers import asked_about, coverage_parts, policy_answer

SAM = {
    "found": True,
    "policy_number": "POL-1001",
    "coverage": "collision, theft, fire, windscreen, third-party liability up to $1,000,000",
    "deductible": 500,
    "premium": 1200,
    "renews_on": "2027-03-01",
}
BOB = {**SAM, "policy_number": "POL-3001", "coverage": "third-party liability; no own-damage cover"}


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("is flood covered?", "flood"),
        ("Is my laptop covered then?", "laptop"),
        ("Does my policy cover windscreen damage?", "windscreen damage"),
        ("Am I covered for theft?", "theft"),
        ("What does my policy cover?", None),
        ("What is covered?", None),
        ("Is it covered?", None),
    ],
)
def test_what_the_customer_asks_about(question: str, thing: str | None) -> None:
    assert asked_about(question) == thing


def test_named_perils_and_exclusions() -> None:
    assert coverage_parts(str(BOB["coverage"])) == (
        ["third-party liability"],
        ["no own-damage cover"],
    )


def test_a_named_peril_is_covered_and_anything_else_is_not_named() -> None:
    assert "Windscreen damage is covered" in str(
        policy_answer("Is windscreen damage covered?", SAM)
    )
    flood = str(policy_answer("is flood covered?", SAM))
    assert flood.startswith("Flood is not among what your policy POL-1001 names")
    assert "collision, theft, fire, windscreen" in flood


def test_an_exclusion_is_said_to_be_one() -> None:
    answer = str(policy_answer("Is own damage covered?", BOB))
    assert answer == "Own damage is not covered: your policy POL-3001 says no own-damage cover."


def test_deductible_premium_and_renewal() -> None:
    assert policy_answer("What's my deductible?", SAM) == "Your deductible is $500."
    assert policy_answer("How much is my premium?", SAM) == "Your premium is $1,200 a year."
    assert policy_answer("When does it renew?", SAM) == "Your policy renews on 2027-03-01."


def test_no_answer_without_a_policy_or_a_policy_question() -> None:
    assert policy_answer("What's my deductible?", {"found": False, "guest": True}) is None
    assert policy_answer("I'd like to file a claim.", SAM) is None
