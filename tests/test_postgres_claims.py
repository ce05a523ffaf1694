"""The claims store on PostgreSQL: what the SQLite one does, and unique claim ids when several
replicas file at the same instant (real PostgreSQL, one store object per replica)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from psycopg_pool import PoolClosed

from agent.store.claims import SAMPLE_CUSTOMER_ID, Policy, UnknownCustomer
from agent.store.postgres_claims import PostgresClaimsStore
from tests.support.postgres import PostgresCluster


@pytest.fixture
def claims_url(postgres_cluster: PostgresCluster, request: pytest.FixtureRequest) -> str:
    return postgres_cluster.create_database(f"claims_{request.node.name[:40]}".lower())


@pytest.fixture
def store(claims_url: str) -> Iterator[PostgresClaimsStore]:
    opened = PostgresClaimsStore(claims_url)
    yield opened
    opened.close()


def test_filed_claim_gets_an_id_and_is_listed_open(store: PostgresClaimsStore) -> None:
    assert [c.claim_id for c in store.open_claims(SAMPLE_CUSTOMER_ID)] == ["CLM-0001"]
    claim = store.file_claim(SAMPLE_CUSTOMER_ID, "  Hail dented the roof  ")
    assert (claim.claim_id, claim.details, claim.policy_number) == (
        "CLM-0002",
        "Hail dented the roof",
        "POL-1001",
    )
    assert [c.claim_id for c in store.open_claims(SAMPLE_CUSTOMER_ID)] == ["CLM-0001", "CLM-0002"]


def test_reopening_keeps_claims_and_seeds_once(claims_url: str) -> None:
    first = PostgresClaimsStore(claims_url)
    claim = first.file_claim(SAMPLE_CUSTOMER_ID, "Flooded basement")
    first.close()
    again = PostgresClaimsStore(claims_url)
    try:
        ids = [c.claim_id for c in again.open_claims(SAMPLE_CUSTOMER_ID)]
        assert ids == ["CLM-0001", claim.claim_id]
        assert again.file_claim(SAMPLE_CUSTOMER_ID, "Stolen bike").claim_id == "CLM-0003"
    finally:
        again.close()


def test_ping_answers_while_the_database_does(store: PostgresClaimsStore) -> None:
    store.ping()
    store.close()
    with pytest.raises(PoolClosed):
        store.ping()


def test_unknown_customers_and_guests_have_no_policy(store: PostgresClaimsStore) -> None:
    for nobody in ("nobody", "guest", "guest-0123456789abcdef01234567"):
        with pytest.raises(UnknownCustomer):
            store.policy_for(nobody)
        with pytest.raises(UnknownCustomer):
            store.file_claim(nobody, "anything")
        assert store.open_claims(nobody) == []


def test_added_customer_gets_their_own_policy(store: PostgresClaimsStore) -> None:
    store.add_customer(
        "cust-zoe", "Zoe", Policy("POL-9", "Zoe", "Travel", "trip cancellation", 100, 50, "2027")
    )
    assert store.policy_for("cust-zoe").product == "Travel"
    assert store.open_claims("cust-zoe") == []


def test_replicas_filing_at_the_same_instant_get_different_ids(claims_url: str) -> None:
    replicas = [PostgresClaimsStore(claims_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            filed = list(
                pool.map(
                    lambda n: replicas[n % 3].file_claim(SAMPLE_CUSTOMER_ID, f"claim {n}"),
                    range(36),
                )
            )
        ids = [c.claim_id for c in filed]
        assert len(set(ids)) == 36
        listed = [c.claim_id for c in replicas[0].open_claims(SAMPLE_CUSTOMER_ID)]
        assert sorted(listed) == sorted(["CLM-0001", *ids])
    finally:
        for replica in replicas:
            replica.close()
