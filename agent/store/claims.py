"""The local claims and policy store behind the agent's tools (SQLite in the data dir).

It stands in for an insurer's policy administration system: small, but real, so a filed
claim is stored, gets an id, and is listed by the open-claims tool afterwards.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

# The sample customers the store is seeded with (the demo signs in as one of them). Guests
# (Parlant's `guest`, and every `guest-…` identity) have no policy and no claims.
SAMPLE_CUSTOMER_ID = "cust-sam"
SAMPLE_CUSTOMERS: dict[str, str] = {
    SAMPLE_CUSTOMER_ID: "Sam Carter",
    "cust-alice": "Alice Martin",
    "cust-bob": "Bob Okafor",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
    policy_number TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers(customer_id),
    product       TEXT NOT NULL,
    coverage      TEXT NOT NULL,
    deductible    INTEGER NOT NULL,
    premium       INTEGER NOT NULL,
    renews_on     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    claim_id      TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers(customer_id),
    policy_number TEXT NOT NULL REFERENCES policies(policy_number),
    details       TEXT NOT NULL,
    status        TEXT NOT NULL,
    filed_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_by_customer ON claims(customer_id, status);
"""

SEED_CUSTOMERS = list(SAMPLE_CUSTOMERS.items())
SEED_POLICIES = [
    (
        "POL-1001",
        SAMPLE_CUSTOMER_ID,
        "Auto Comprehensive",
        "collision, theft, fire, windscreen, third-party liability up to $1,000,000",
        500,
        1200,
        "2027-03-01",
    ),
    (
        "POL-2001",
        "cust-alice",
        "Home Standard",
        "fire, storm, burglary, water damage from burst pipes; contents up to $50,000",
        1000,
        900,
        "2027-01-15",
    ),
    (
        "POL-3001",
        "cust-bob",
        "Auto Third-Party",
        "third-party liability up to $500,000; no own-damage cover",
        250,
        600,
        "2026-12-31",
    ),
]
SEED_CLAIMS = [
    (
        "CLM-0001",
        SAMPLE_CUSTOMER_ID,
        "POL-1001",
        "Cracked windscreen from road debris",
        "in review",
    ),
]


@dataclass(frozen=True)
class Policy:
    policy_number: str
    customer_name: str
    product: str
    coverage: str
    deductible: int
    premium: int
    renews_on: str


@dataclass(frozen=True)
class Claim:
    claim_id: str
    policy_number: str
    details: str
    status: str
    filed_at: str


class UnknownCustomer(LookupError):
    """The customer has no policy in the store."""


class Claims(Protocol):
    """What the tools need from a claims store (SQLite here, PostgreSQL in postgres_claims).

    Blocking calls, safe from any thread: the tools run them in a worker thread.
    """

    def add_customer(self, customer_id: str, name: str, policy: Policy) -> None: ...

    def policy_for(self, customer_id: str) -> Policy: ...

    def open_claims(self, customer_id: str) -> list[Claim]: ...

    def file_claim(self, customer_id: str, details: str) -> Claim: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class ClaimsStore:
    """Thread-safe access to the claims database; tools call it from Parlant's tool server."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a claim the customer was told is filed must survive a power cut, not only a crash.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._seed()

    def _seed(self) -> None:
        with self._lock, self._transaction():
            # Stores from before customer identity gave the sample policy to Parlant's one
            # `guest`, which every anonymous visitor was: it belongs to the sample customer.
            self._db.execute(
                "INSERT OR IGNORE INTO customers VALUES (?, ?)",
                (SAMPLE_CUSTOMER_ID, SAMPLE_CUSTOMERS[SAMPLE_CUSTOMER_ID]),
            )
            for table in ("policies", "claims"):
                self._db.execute(
                    f"UPDATE {table} SET customer_id = ? WHERE customer_id = 'guest'",
                    (SAMPLE_CUSTOMER_ID,),
                )
            self._db.execute("DELETE FROM customers WHERE customer_id = 'guest'")
            self._db.executemany("INSERT OR IGNORE INTO customers VALUES (?, ?)", SEED_CUSTOMERS)
            self._db.executemany(
                "INSERT OR IGNORE INTO policies VALUES (?, ?, ?, ?, ?, ?, ?)", SEED_POLICIES
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?, ?, '2026-11-01T09:30:00+00:00')",
                SEED_CLAIMS,
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def add_customer(self, customer_id: str, name: str, policy: Policy) -> None:
        """Register a customer with one policy (used by tests and data imports)."""
        with self._lock, self._transaction():
            self._db.execute("INSERT OR REPLACE INTO customers VALUES (?, ?)", (customer_id, name))
            self._db.execute(
                "INSERT OR REPLACE INTO policies VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        with self._lock:
            row = self._db.execute(
                """SELECT p.policy_number, c.name, p.product, p.coverage, p.deductible,
                          p.premium, p.renews_on
                   FROM policies p JOIN customers c USING (customer_id)
                   WHERE p.customer_id = ? ORDER BY p.policy_number LIMIT 1""",
                (customer_id,),
            ).fetchone()
        if row is None:
            raise UnknownCustomer(customer_id)
        return Policy(*row)

    def ping(self) -> None:
        """Raises if the database cannot answer (the agent's /readyz)."""
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    def open_claims(self, customer_id: str) -> list[Claim]:
        with self._lock:
            rows = self._db.execute(
                """SELECT claim_id, policy_number, details, status, filed_at FROM claims
                   WHERE customer_id = ? AND status != 'closed' ORDER BY filed_at, claim_id""",
                (customer_id,),
            ).fetchall()
        return [Claim(*row) for row in rows]

    def file_claim(self, customer_id: str, details: str) -> Claim:
        policy = self.policy_for(customer_id)
        filed_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._transaction():
            (count,) = self._db.execute("SELECT COUNT(*) FROM claims").fetchone()
            claim = Claim(
                claim_id=f"CLM-{count + 1:04d}",
                policy_number=policy.policy_number,
                details=details.strip(),
                status="submitted",
                filed_at=filed_at,
            )
            self._db.execute(
                "INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                (
                    claim.claim_id,
                    customer_id,
                    claim.policy_number,
                    claim.details,
                    claim.status,
                    claim.filed_at,
                ),
            )
        return claim

    def close(self) -> None:
        self._db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
