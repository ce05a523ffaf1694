"""Event-write latency of the SQLite and PostgreSQL document stores beside Parlant's `local`.

    .venv/bin/python bench/bench_session_store.py [--sizes 1000,10000,100000] [--no-postgres]

For each size, one session store's worth of data (sessions, events, metadata) is written
straight to a `local` store file, and the SQLite store is filled from that file by
import_json_store; the PostgreSQL store (a throwaway cluster, tests/support/postgres.py, with
production durability settings) is filled with the same events by COPY. Each store then takes
single-event insert_one calls through Parlant's DocumentCollection interface, timed one by one.
Targets: SQLite and PostgreSQL flat (median at the largest size within 2x of the smallest), and
SQLite at 100k events at least 50x faster than `local`.
"""

import os
import sys
import tempfile

# Importing parlant.sdk or parlant.bin creates PARLANT_HOME; keep it out of the tree.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-home-"))

import argparse
import asyncio
import json
import math
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from parlant.adapters.db.json_file import JSONFileDocumentDatabase
from parlant.core.loggers import LogLevel, StdoutLogger
from parlant.core.persistence.common import SortDirection
from parlant.core.persistence.document_database import (
    BaseDocument,
    CollectionIndex,
    DocumentCollection,
    identity_loader,
)
from parlant.core.sessions import SessionDocumentStore
from parlant.core.tracer import LocalTracer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.store.postgres_documents import (
    PostgresDocumentDatabase,
    _row,
    open_pool,
)
from agent.store.sqlite_documents import SQLiteDocumentDatabase, import_json_store
from tests.support.postgres import PostgresCluster, postgres_bin_dir

EVENTS_PER_SESSION = 50
SQLITE_WRITES = 500
READS = 200
START = datetime(2025, 1, 1, tzinfo=UTC)

# The indexes SessionDocumentStore declares on its events, so SQLite maintains them as in use.
EVENT_INDEXES = [
    CollectionIndex(fields=(("id", SortDirection.ASC),)),
    CollectionIndex(fields=(("session_id", SortDirection.ASC), ("offset", SortDirection.ASC))),
    CollectionIndex(
        fields=(
            ("session_id", SortDirection.ASC),
            ("deleted", SortDirection.ASC),
            ("offset", SortDirection.ASC),
        )
    ),
]


def event(number: int) -> dict[str, Any]:
    """An event document as SessionDocumentStore writes a customer message."""
    session = number // EVENTS_PER_SESSION
    return {
        "id": f"ev{number:09d}",
        "version": SessionDocumentStore.VERSION.to_string(),
        "creation_utc": (START + timedelta(seconds=number)).isoformat(),
        "session_id": f"se{session:07d}",
        "source": "customer",
        "kind": "message",
        "offset": number % EVENTS_PER_SESSION,
        "trace_id": f"tr{number:09d}",
        "data": {
            "message": f"Message {number}: my claim for the water damage in the kitchen is late.",
            "participant": {"id": f"cu{session:07d}", "display_name": "Customer"},
            "flagged": False,
            "tags": [],
            "draft": "",
        },
        "metadata": None,
        "deleted": False,
    }


def session(number: int) -> dict[str, Any]:
    return {
        "id": f"se{number:07d}",
        "version": SessionDocumentStore.VERSION.to_string(),
        "creation_utc": (START + timedelta(seconds=number * EVENTS_PER_SESSION)).isoformat(),
        "customer_id": f"cu{number:07d}",
        "agent_id": "insurance-agent",
        "mode": "auto",
        "title": None,
        "consumption_offsets": {"client": 0},
        "agent_states": [],
        "metadata": {},
        "labels": [],
    }


def write_local_store(path: Path, events: int) -> None:
    """The file Parlant's `local` store keeps for sessions, written as JSONFileDocumentDatabase
    writes it (one JSON object of collections, indent=2)."""
    sessions = math.ceil(events / EVENTS_PER_SESSION)
    metadata = {
        "id": "meta",
        "creation_utc": START.isoformat(),
        "version": SessionDocumentStore.VERSION.to_string(),
    }
    data = {
        "metadata": [metadata],
        "sessions": [session(i) for i in range(sessions)],
        "events": [event(i) for i in range(events)],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


async def time_inserts(
    collection: DocumentCollection[BaseDocument], first: int, writes: int
) -> list[float]:
    latencies = []
    for number in range(first, first + writes):
        document = cast(BaseDocument, event(number))
        started = time.perf_counter()
        await collection.insert_one(document)
        latencies.append(time.perf_counter() - started)
    return latencies


@dataclass(frozen=True)
class Measurement:
    latencies: list[float]
    open_seconds: float  # a restart: from entering the database to an open events collection
    # One session's events as the long polls read them (SQLite and PostgreSQL only).
    reads: list[float] | None = None

    @property
    def read_median_ms(self) -> float:
        return statistics.median(self.reads or [math.nan]) * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)  # nearest rank
        return ordered[math.ceil(0.99 * len(ordered)) - 1] * 1000


async def measure_local(store_file: Path, events: int, writes: int) -> Measurement:
    logger = StdoutLogger(LocalTracer(), LogLevel.WARNING)
    started = time.perf_counter()
    async with JSONFileDocumentDatabase(logger, store_file) as database:
        collection = await database.get_or_create_collection(
            "events", BaseDocument, identity_loader
        )
        open_seconds = time.perf_counter() - started
        latencies = await time_inserts(collection, events, writes)
    return Measurement(latencies, open_seconds)


async def open_sqlite_events(database: SQLiteDocumentDatabase) -> DocumentCollection[BaseDocument]:
    collection = await database.get_or_create_collection("events", BaseDocument, identity_loader)
    await collection.ensure_indexes(EVENT_INDEXES)
    return collection


async def import_into_sqlite(store_file: Path, database_file: Path) -> float:
    """The one-time switch from `local`: import, then the first open builds the indexes."""
    started = time.perf_counter()
    async with SQLiteDocumentDatabase(database_file) as database:
        await import_json_store(store_file, database)
        await open_sqlite_events(database)
    return time.perf_counter() - started


async def measure_sqlite(database_file: Path, events: int) -> Measurement:
    started = time.perf_counter()
    async with SQLiteDocumentDatabase(database_file) as database:
        collection = await open_sqlite_events(database)
        open_seconds = time.perf_counter() - started
        latencies = await time_inserts(collection, events, SQLITE_WRITES)
        return Measurement(latencies, open_seconds, await time_session_reads(collection, events))


async def fill_postgres(database: PostgresDocumentDatabase, events: int) -> None:
    """The events written straight into the table by COPY, as the store would have stored them."""
    collection = await database.get_or_create_collection("events", BaseDocument, identity_loader)
    rows = [_row(event(number)) for number in range(events)]
    for signature in {row.signature for row in rows}:
        await database.known_shape(signature)
    shapes = database._shape_ids
    async with open_pool_connection(database) as connection:
        async with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY parlant_documents (collection, id, creation_utc, shape, body, exact) "
                "FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                await copy.write_row(
                    (
                        database.qualified("events"),
                        row.id,
                        row.creation_utc,
                        shapes[row.signature],
                        row.body,
                        row.exact,
                    )
                )
        await connection.execute("ANALYZE parlant_documents")
    await collection.ensure_indexes(EVENT_INDEXES)


def open_pool_connection(database: PostgresDocumentDatabase) -> Any:
    return database._pool.connection()


async def measure_postgres(url: str, events: int) -> tuple[Measurement, float]:
    """(the timed writes after a restart, the fill time); a fresh namespace per size."""
    namespace = f"bench-{events}"
    async with open_pool(url) as pool:
        started = time.perf_counter()
        async with PostgresDocumentDatabase(pool, namespace) as database:
            await fill_postgres(database, events)
        fill_seconds = time.perf_counter() - started
        started = time.perf_counter()
        async with PostgresDocumentDatabase(pool, namespace) as database:
            collection = await database.get_or_create_collection(
                "events", BaseDocument, identity_loader
            )
            await collection.ensure_indexes(EVENT_INDEXES)
            open_seconds = time.perf_counter() - started
            latencies = await time_inserts(collection, events, SQLITE_WRITES)
            reads = await time_session_reads(collection, events)
    return Measurement(latencies, open_seconds, reads), fill_seconds


async def time_session_reads(
    collection: DocumentCollection[BaseDocument], events: int, reads: int = READS
) -> list[float]:
    """The filter SessionDocumentStore.list_events sends for a long poll, on sessions spread
    over the whole store: it must not cost more as the store grows."""
    sessions = math.ceil(events / EVENTS_PER_SESSION)
    latencies = []
    for n in range(reads):
        where: Any = {
            "session_id": {"$eq": f"se{(n * 7919) % sessions:07d}"},
            "offset": {"$gte": EVENTS_PER_SESSION - 5},
            "deleted": {"$eq": False},
        }
        started = time.perf_counter()
        found = await collection.find(where)
        latencies.append(time.perf_counter() - started)
        assert found.items, where
    return latencies


def local_writes(events: int) -> int:
    # Each `local` write rewrites everything stored: keep the run to seconds per size.
    return max(5, min(50, 200_000 // events))


async def main(sizes: list[int], postgres: bool) -> None:
    cluster = None
    if postgres:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL is not installed: run scripts/ensure_postgres.sh")
        cluster = PostgresCluster(bin_dir).start()
    try:
        rows = await measure_all(sizes, cluster)
    finally:
        if cluster is not None:
            cluster.stop()
    print_table(rows)


Row = tuple[int, Measurement, Measurement | None, Measurement, float]


async def measure_all(sizes: list[int], cluster: PostgresCluster | None) -> list[Row]:
    rows: list[Row] = []
    url = cluster.create_database("bench") if cluster else None
    for events in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-session-store-") as directory:
            store_file = Path(directory) / "sessions.json"
            database_file = Path(directory) / "sessions.sqlite"
            write_local_store(store_file, events)
            # SQLite first: the `local` run rewrites the file it imports from.
            import_seconds = await import_into_sqlite(store_file, database_file)
            sqlite = await measure_sqlite(database_file, events)
            postgres = (await measure_postgres(url, events))[0] if url else None
            local = await measure_local(store_file, events, local_writes(events))
        rows.append((events, sqlite, postgres, local, import_seconds))
        print(f"measured {events:,} events", flush=True)
    return rows


def print_table(rows: list[Row]) -> None:
    print()
    print(
        f"{'events stored':>13} | {'SQLite median':>13} | {'SQLite p99':>10} | "
        f"{'Postgres median':>15} | {'Postgres p99':>12} | "
        f"{'local median':>12} | {'local p99':>10} | {'local/SQLite':>12} | "
        f"{'open SQLite':>11} | {'open PG':>8} | {'open local':>10} | {'import':>8} | "
        f"{'read SQLite':>11} | {'read PG':>8}"
    )
    print("-" * 190)
    for events, sqlite, postgres, local, import_seconds in rows:
        pg_median = f"{postgres.median_ms:>12.2f} ms" if postgres else f"{'-':>15}"
        pg_p99 = f"{postgres.p99_ms:>9.2f} ms" if postgres else f"{'-':>12}"
        pg_open = f"{postgres.open_seconds:>6.2f} s" if postgres else f"{'-':>8}"
        pg_read = f"{postgres.read_median_ms:>5.2f} ms" if postgres else f"{'-':>8}"
        print(
            f"{events:>13,} | {sqlite.median_ms:>10.2f} ms | {sqlite.p99_ms:>7.2f} ms | "
            f"{pg_median} | {pg_p99} | "
            f"{local.median_ms:>9.2f} ms | {local.p99_ms:>7.2f} ms | "
            f"{local.median_ms / sqlite.median_ms:>11.0f}x | "
            f"{sqlite.open_seconds:>9.2f} s | {pg_open} | {local.open_seconds:>8.2f} s | "
            f"{import_seconds:>6.2f} s | {sqlite.read_median_ms:>8.2f} ms | {pg_read}"
        )
    sizes = [row[0] for row in rows]
    print(
        f"\nWrites timed per size: SQLite and PostgreSQL {SQLITE_WRITES}; local "
        + ", ".join(f"{local_writes(e)} at {e:,}" for e in sizes)
        + ". p99 is nearest-rank, so with few writes it is the slowest one. Open: a restart, to"
        " an open events collection (PostgreSQL reads every event through Parlant's loader, as"
        " SQLite does). Import: the one-time switch from local (import_json_store and the first"
        " open, which builds the indexes). PostgreSQL: a local cluster over TCP on 127.0.0.1,"
        " fsync and synchronous_commit on. Read: median of 200 finds of one session's last"
        " events, the filter a long poll's list_events sends."
    )

    (smallest, sqlite_small, pg_small, _, _) = rows[0]
    (largest, sqlite_large, pg_large, local_large, _) = rows[-1]
    flat = sqlite_large.median_ms / sqlite_small.median_ms
    speedup = local_large.median_ms / sqlite_large.median_ms
    print(
        f"SQLite flat: median at {largest:,} is {flat:.2f}x the median at {smallest:,} "
        f"(target <= 2x): {'PASS' if flat <= 2 else 'FAIL'}"
    )
    if pg_small and pg_large:
        pg_flat = pg_large.median_ms / pg_small.median_ms
        print(
            f"PostgreSQL flat: median at {largest:,} is {pg_flat:.2f}x the median at "
            f"{smallest:,} (target <= 2x): {'PASS' if pg_flat <= 2 else 'FAIL'}"
        )
    print(
        f"SQLite vs local at {largest:,}: {speedup:.0f}x faster "
        f"(target >= 50x): {'PASS' if speedup >= 50 else 'FAIL'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated event counts")
    parser.add_argument(
        "--no-postgres", action="store_true", help="SQLite and local only (no PostgreSQL cluster)"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main([int(size) for size in arguments.sizes.split(",")], postgres=not arguments.no_postgres)
    )
