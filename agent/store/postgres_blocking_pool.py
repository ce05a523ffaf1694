"""A small pool of blocking connections for the agent's own tables on PostgreSQL (claims, usage
book, canned replies), with those tables made as it opens: called from worker threads, beside
the sessions' asynchronous pool (agent/store/postgres_documents.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool


def open_blocking_pool(
    url: str,
    max_connections: int,
    schema_lock: tuple[int, int],
    set_up: Callable[[Connection[Any]], None],
) -> ConnectionPool[Connection[Any]]:
    """The pool, open, once `set_up` ran in one transaction under `schema_lock`: replicas
    starting together would otherwise race on CREATE ... IF NOT EXISTS."""
    pool: ConnectionPool[Connection[Any]] = ConnectionPool(
        url,
        min_size=1,
        max_size=max_connections,
        kwargs={"autocommit": True},
        open=True,
        # A connection cut while idle (a database restart, a proxy's idle time-out) is replaced
        # as it is handed out, instead of failing the call that gets it.
        check=ConnectionPool.check_connection,
    )
    try:
        pool.wait()
        with pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s, %s)", schema_lock)
            set_up(db)
    except BaseException:
        pool.close()
        raise
    return pool
