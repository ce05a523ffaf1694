"""Masking sensitive details in the Slack copy: what is hidden, what must stay readable."""

from __future__ import annotations

import json

import pytest

from handoff import record as records
from slack_bridge.mirror_text import mirrored_message
from slack_kit.masking import DOB_HIDDEN, MASK_KINDS, Masker, luhn_valid
from slack_kit.root_message import escalation_view, render

DEFAULT = Masker.from_setting(None)
EVERYTHING = Masker.of(MASK_KINDS)
VISA = "4242 4242 4242 4242"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"My card is {VISA}, thanks", "My card is [card ••••4242], thanks"),
        ("card 4111-1111-1111-1111.", "card [card ••••1111]."),
        ("4000056655665556", "[card ••••5556]"),
        ("Amex 3782 822463 10005", "Amex [card ••••0005]"),
        ("my DOB: 14/03/1985", f"my DOB: {DOB_HIDDEN}"),
        ("D.O.B. 03/14/85", f"D.O.B. {DOB_HIDDEN}"),
        ("Date of birth is 1985-03-14.", f"Date of birth is {DOB_HIDDEN}."),
        (
            "I was born on the 14th of March 1985 in Leeds",
            f"I was born on the {DOB_HIDDEN} in Leeds",
        ),
        ("birthday: March 14, 1985", f"birthday: {DOB_HIDDEN}"),
        ("born 14 Mar 1985", f"born {DOB_HIDDEN}"),
    ],
)
def test_default_masks_card_numbers_and_dates_of_birth(text: str, masked: str) -> None:
    assert DEFAULT.mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4241",  # fails the Luhn check
        "Reference 1234567890123",
        "Claim CLM-0001 on policy POL-1001 for $12,500.00",
        "The accident was on 2024-05-02 at 14:30",
        "renewal date 01/06/2025",
        "I was born in 1985; the crash was on 2024-05-02",
        "My birthday was lovely. The crash was on 02.05.2024",
        "Call +1 555 123 4567 or +1-555-INSURE",
        "ann@example.com",
        "Adobe 2024-05-02",  # "dob" inside a word is no trigger
    ],
)
def test_default_leaves_what_operators_need(text: str) -> None:
    assert DEFAULT.mask(text) == text


def test_the_incident_date_stays_beside_a_hidden_date_of_birth() -> None:
    text = "dob 14.03.1985 and the crash was 02.05.2024"
    assert DEFAULT.mask(text) == f"dob {DOB_HIDDEN} and the crash was 02.05.2024"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("policy POL-1001 please", "policy [policy ••01] please"),
        ("pol 2001", "[policy ••01]"),
        ("write to ann.lee+claims@example.co.uk now", "write to a•••@•••.uk now"),
        ("call +44 20 7946 0958", "call [phone ••58]"),
        ("(555) 123-4567", "[phone ••67]"),
        ("555.123.4567 or 07946 095812", "[phone ••67] or [phone ••12]"),
    ],
)
def test_optional_kinds(text: str, masked: str) -> None:
    assert EVERYTHING.mask(text) == masked
    assert DEFAULT.mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "Claim CLM-0001 for $12,500.00",
        "The accident was on 2024-05-02 and 02.05.2024",
        "Order 12345, +1-555-INSURE",
    ],
)
def test_phone_masking_spares_dates_claim_ids_and_amounts(text: str) -> None:
    assert EVERYTHING.mask(text) == text


def test_a_card_number_is_not_taken_for_a_phone_number() -> None:
    assert EVERYTHING.mask(f"card {VISA}") == "card [card ••••4242]"
    # With cards left visible, a phone mask must not swallow part of one either.
    assert Masker.of(["phone"]).mask(f"card {VISA}") == f"card {VISA}"


def test_none_masks_nothing() -> None:
    text = f"card {VISA}, DOB 14/03/1985, POL-1001, ann@example.com, +44 20 7946 0958"
    assert Masker.from_setting("none").mask(text) == text


def test_unknown_kind_names_the_valid_ones() -> None:
    with pytest.raises(ValueError) as refused:
        Masker.from_setting("card,ssn")
    assert "ssn" in str(refused.value)
    assert all(kind in str(refused.value) for kind in (*MASK_KINDS, "none"))


def test_luhn() -> None:
    assert luhn_valid("4242424242424242") and luhn_valid("79927398713")
    assert not luhn_valid("4242424242424241") and not luhn_valid("79927398710")


# --- through the Slack builders --------------------------------------------------------------


def test_mirrored_parts_are_masked_before_splitting() -> None:
    # Long enough to be split; every card must come out masked whole, never cut between parts.
    text = " ".join(f"line {n}: card {VISA} born 14/03/1985 DOB 1985-03-14" for n in range(400))
    parts = mirrored_message("Customer (Ann)", text, masker=DEFAULT)
    assert len(parts) > 1
    shown = json.dumps([blocks for _, blocks in parts], ensure_ascii=False)
    fallbacks = " ".join(fallback for fallback, _ in parts)
    for copy in (shown, fallbacks):
        assert "4242 4242" not in copy and "1985" not in copy
    assert shown.count("[card ••••4242]") >= 300


def test_root_message_masks_the_reason_and_the_excerpts_but_not_the_customer() -> None:
    record = records.request_handoff(
        None, f"disputes a charge on card {VISA}", "2024-05-01T10:00:00+00:00", "pending"
    )
    recent = [
        ("Customer (Ann)", "My DOB is 14/03/1985, crash on 2024-05-02"),
        ("AI agent", "One moment."),
    ]
    view = escalation_view("s1", "Ann 4242", dict(record), recent, "http://dash", masker=DEFAULT)
    fallback, blocks_ = render(view)
    shown = json.dumps(blocks_, ensure_ascii=False) + fallback
    assert VISA not in shown and "[card ••••4242]" in shown
    assert "14/03/1985" not in shown and DOB_HIDDEN in shown and "2024-05-02" in shown
    assert "Ann 4242" in shown


def test_a_policy_number_keeps_its_last_two_digits() -> None:
    assert Masker.of(["policy"]).mask("POL-12345 and pol 987") == (
        "[policy ••45] and [policy ••87]"
    )


@pytest.mark.parametrize(
    ("setting", "kinds"),
    [
        (None, {"card", "dob"}),
        ("", {"card", "dob"}),
        ("  ", {"card", "dob"}),
        ("card,dob", {"card", "dob"}),
        (" Email , PHONE ,", {"email", "phone"}),
        ("NONE", set()),
    ],
)
def test_the_mask_setting(setting: str | None, kinds: set[str]) -> None:
    assert Masker.from_setting(setting).kinds == kinds


def test_unknown_kinds_are_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError) as refused:
        Masker.from_setting("card,iban,ssn")
    assert str(refused.value) == (
        "unknown kind(s) iban, ssn; set a comma list of card, dob, policy, email, phone, or none"
    )


def test_masker_of_kinds() -> None:
    assert Masker.of(["email", "phone"]).kinds == {"email", "phone"}
    assert Masker.of([]).kinds == frozenset()
