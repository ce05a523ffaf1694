"""The claims and policy store on PostgreSQL, shared by every agent replica.

Selected when PARLANT_SESSION_STORE is a postgresql:// URL: the claims live in the same database
as the sessions (tables `insurance_*`), so there is one database to run, back up and restore,
and every replica sees the same claims. Claim numbers come from a sequence, so two replicas
filing at the same instant get different ids (the SQLite store counts rows under its one
writer lock, which only one process can hold).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import Connection

from agent.store.claims import (
    SAMPLE_CUSTOMERS,
    SEED_CLAIMS,
    SEED_POLICIES,
    Claim,
    Policy,
    UnknownCustomer,
)
from agent.store.postgres_blocking_pool import open_blocking_pool

# A different advisory lock class from the document store's: only the schema set-up takes it.
_SCHEMA_LOCK = (0x434C4D53, 0)  # "CLMS"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS insurance_customers (
        customer_id text PRIMARY KEY,
        name        text NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS insurance_policies (
        policy_number text PRIMARY KEY,
        customer_id   text NOT NULL REFERENCES insurance_customers (customer_id),
        product       text NOT NULL,
        coverage      text NOT NULL,
        deductible    integer NOT NULL,
        premium       integer NOT NULL,
        renews_on     text NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS insurance_claims (
        claim_id      text PRIMARY KEY,
        customer_id   text NOT NULL REFERENCES insurance_customers (customer_id),
        policy_number text NOT NULL REFERENCES insurance_policies (policy_number),
        details       text NOT NULL,
        status        text NOT NULL,
        filed_at      text NOT NULL
    )""",
    (
        "CREATE INDEX IF NOT EXISTS insurance_claims_by_customer "
        "ON insurance_claims (customer_id, status)"
    ),
    # The seeded sample claim is CLM-0001.
    "CREATE SEQUENCE IF NOT EXISTS insurance_claim_numbers START 2",
]

_POLICY_COLUMNS = (
    "p.policy_number, c.name, p.product, p.coverage, p.deductible, p.premium, p.renews_on"
)


class PostgresClaimsStore:
    """The Claims protocol on a small pool of blocking connections (the tools call it from
    worker threads); one transaction per call."""

    def __init__(self, url: str, max_connections: int = 4) -> None:
        self._pool = open_blocking_pool(url, max_connections, _SCHEMA_LOCK, self._set_up)

    @staticmethod
    def _set_up(db: Connection[Any]) -> None:
        for statement in _SCHEMA:
            db.execute(statement)
        cursor = db.cursor()
        cursor.executemany(
            "INSERT INTO insurance_customers VALUES (%s, %s) ON CONFLICT DO NOTHING",
            list(SAMPLE_CUSTOMERS.items()),
        )
        cursor.executemany(
            "INSERT INTO insurance_policies VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            SEED_POLICIES,
        )
        cursor.executemany(
            "INSERT INTO insurance_claims VALUES "
            "(%s, %s, %s, %s, %s, '2026-11-01T09:30:00+00:00') ON CONFLICT DO NOTHING",
            SEED_CLAIMS,
        )

    def add_customer(self, customer_id: str, name: str, policy: Policy) -> None:
        """Register a customer with one policy (used by tests and data imports)."""
        with self._pool.connection() as db, db.transaction():
            db.execute(
                "INSERT INTO insurance_customers VALUES (%s, %s) "
                "ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name",
                (customer_id, name),
            )
            db.execute(
                "INSERT INTO insurance_policies VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (policy_number) DO UPDATE SET customer_id = EXCLUDED.customer_id, "
                "product = EXCLUDED.product, coverage = EXCLUDED.coverage, "
                "deductible = EXCLUDED.deductible, premium = EXCLUDED.premium, "
                "renews_on = EXCLUDED.renews_on",
                (
                    policy.policy_number,
                    customer_id,
                    policy.product,
                    policy.coverage,
                    policy.deductible,
                    policy.premium,
                    policy.renews_on,
                ),
            )

    def policy_for(self, customer_id: str) -> Policy:
        with self._pool.connection() as db:
            row = db.execute(
                f"SELECT {_POLICY_COLUMNS} FROM insurance_policies p "
                "JOIN insurance_customers c USING (customer_id) "
                "WHERE p.customer_id = %s ORDER BY p.policy_number LIMIT 1",
                (customer_id,),
            ).fetchone()
        if row is None:
            raise UnknownCustomer(customer_id)
        return Policy(*row)

    def ping(self) -> None:
        """Raises if the database cannot answer (the agent's /readyz)."""
        with self._pool.connection() as db:
            db.execute("SELECT 1").fetchone()

    def open_claims(self, customer_id: str) -> list[Claim]:
        with self._pool.connection() as db:
            rows = db.execute(
                "SELECT claim_id, policy_number, details, status, filed_at FROM insurance_claims "
                "WHERE customer_id = %s AND status != 'closed' "
                'ORDER BY filed_at, claim_id COLLATE "C"',
                (customer_id,),
            ).fetchall()
        return [Claim(*row) for row in rows]

    def file_claim(self, customer_id: str, details: str) -> Claim:
        policy = self.policy_for(customer_id)
        filed_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._pool.connection() as db:
            # nextval is never handed out twice, whichever replica asks, committed or not.
            row = db.execute(
                "INSERT INTO insurance_claims VALUES ("
                "'CLM-' || lpad(nextval('insurance_claim_numbers')::text, 4, '0'), "
                "%s, %s, %s, 'submitted', %s) RETURNING claim_id",
                (customer_id, policy.policy_number, details.strip(), filed_at),
            ).fetchone()
        assert row is not None
        return Claim(
            claim_id=row[0],
            policy_number=policy.policy_number,
            details=details.strip(),
            status="submitted",
            filed_at=filed_at,
        )

    def close(self) -> None:
        self._pool.close()
