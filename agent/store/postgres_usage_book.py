"""The usage book (agent/store/usage_book.py) on PostgreSQL, beside the sessions, shared by every
agent replica: each replica adds its requests to the same rows."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from agent.store.postgres_blocking_pool import open_blocking_pool
from agent.store.usage_book import UsageRow

# Its own advisory lock class: only the schema set-up takes it.
_SCHEMA_LOCK = (0x4C4C4D55, 0)  # "LLMU"

_SCHEMA = """CREATE TABLE IF NOT EXISTS llm_usage_daily (
    day           text NOT NULL,
    model         text NOT NULL,
    kind          text NOT NULL,
    requests      bigint NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    PRIMARY KEY (day, model, kind)
)"""


def _create(db: Connection[Any]) -> None:
    db.execute(_SCHEMA)


class PostgresUsageBook:
    def __init__(self, url: str, max_connections: int = 2) -> None:
        self._pool = open_blocking_pool(url, max_connections, _SCHEMA_LOCK, _create)

    def add(self, row: UsageRow) -> None:
        with self._pool.connection() as db:
            db.execute(
                "INSERT INTO llm_usage_daily VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (day, model, kind) DO UPDATE SET "
                "requests = llm_usage_daily.requests + EXCLUDED.requests, "
                "input_tokens = llm_usage_daily.input_tokens + EXCLUDED.input_tokens, "
                "output_tokens = llm_usage_daily.output_tokens + EXCLUDED.output_tokens",
                (
                    row.day,
                    row.model,
                    row.kind,
                    row.requests,
                    row.input_tokens,
                    row.output_tokens,
                ),
            )

    def since(self, day: str) -> list[UsageRow]:
        with self._pool.connection() as db:
            found = db.execute(
                "SELECT day, model, kind, requests, input_tokens, output_tokens "
                "FROM llm_usage_daily WHERE day >= %s ORDER BY day, model, kind",
                (day,),
            ).fetchall()
        return [UsageRow(*r) for r in found]

    def close(self) -> None:
        self._pool.close()
