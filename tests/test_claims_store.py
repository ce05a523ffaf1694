"""The claims store behind the tools: real SQLite in a temporary directory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.store.claims import SAMPLE_CUSTOMER_ID, ClaimsStore, Policy, UnknownCustomer


def test_filed_claim_gets_an_id_and_is_listed_open(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path / "claims.sqlite3")
    before = [c.claim_id for c in store.open_claims(SAMPLE_CUSTOMER_ID)]

    claim = store.file_claim(SAMPLE_CUSTOMER_ID, "  Hail dented the roof  ")

    assert claim.details == "Hail dented the roof"
    assert claim.policy_number == "POL-1001"
    assert [c.claim_id for c in store.open_claims(SAMPLE_CUSTOMER_ID)] == [*before, claim.claim_id]


def test_store_survives_reopening_and_seeding_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "claims.sqlite3"
    claim = ClaimsStore(path).file_claim(SAMPLE_CUSTOMER_ID, "Flooded basement")
    reopened = ClaimsStore(path)
    ids = [c.claim_id for c in reopened.open_claims(SAMPLE_CUSTOMER_ID)]
    assert ids.count(claim.claim_id) == 1
    assert ids.count("CLM-0001") == 1


def test_unknown_customer_has_no_policy(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path / "claims.sqlite3")
    with pytest.raises(UnknownCustomer):
        store.policy_for("nobody")
    with pytest.raises(UnknownCustomer):
        store.file_claim("nobody", "anything")


def test_added_customer_gets_their_own_policy(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path / "claims.sqlite3")
    store.add_customer(
        "cust-zoe",
        "Zoe",
        Policy("POL-9", "Zoe", "Travel", "trip cancellation", 100, 50, "2027-06-01"),
    )
    assert store.policy_for("cust-zoe").product == "Travel"
    assert store.open_claims("cust-zoe") == []


def test_guests_have_no_policy_and_no_claims(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path / "claims.sqlite3")
    for guest in ("guest", "guest-0123456789abcdef01234567"):
        with pytest.raises(UnknownCustomer):
            store.policy_for(guest)
        assert store.open_claims(guest) == []


def test_a_store_from_before_identity_gives_the_guests_data_to_the_sample_customer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "claims.sqlite3"
    ClaimsStore(path).close()
    with sqlite3.connect(path) as db:
        # What the seed and an anonymous visitor left before customers had identities.
        db.execute("UPDATE policies SET customer_id = 'guest' WHERE policy_number = 'POL-1001'")
        db.execute("UPDATE claims SET customer_id = 'guest'")
        db.execute("INSERT INTO customers VALUES ('guest', 'Guest Customer')")
    reopened = ClaimsStore(path)
    assert reopened.open_claims("guest") == []
    assert reopened.policy_for(SAMPLE_CUSTOMER_ID).policy_number == "POL-1001"
    assert [c.claim_id for c in reopened.open_claims(SAMPLE_CUSTOMER_ID)] == ["CLM-0001"]
