"""What the model endpoint billed, per UTC day, model and kind of request (agent/nlp/gateway_usage.py
writes it): the dashboard's token figures. SQLite in the data dir here; PostgreSQL, shared by
replicas, in postgres_usage_book.py.

One row per (day, model, kind) holding sums, added to as requests are answered: it stays small
however many requests there are, and two replicas adding at once both count (an upsert adds).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Kind = Literal["generation", "embedding"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_usage_daily (
    day           TEXT NOT NULL,
    model         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    requests      INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, model, kind)
);
"""


@dataclass(frozen=True)
class UsageRow:
    day: str  # YYYY-MM-DD, UTC
    model: str
    kind: str
    requests: int
    input_tokens: int
    output_tokens: int


class UsageBook(Protocol):
    """Blocking calls, safe from any thread (the agent calls them from worker threads)."""

    def add(self, row: UsageRow) -> None: ...

    def since(self, day: str) -> list[UsageRow]:
        """Every row from `day` (YYYY-MM-DD) on, oldest first."""
        ...

    def close(self) -> None: ...


class SqliteUsageBook:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A write per model request: no fsync each (a power cut may lose the last moments'
        # counts, never the file).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def add(self, row: UsageRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO llm_usage_daily VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (day, model, kind) DO UPDATE SET "
                "requests = requests + excluded.requests, "
                "input_tokens = input_tokens + excluded.input_tokens, "
                "output_tokens = output_tokens + excluded.output_tokens",
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
        with self._lock:
            found = self._db.execute(
                "SELECT day, model, kind, requests, input_tokens, output_tokens "
                "FROM llm_usage_daily WHERE day >= ? ORDER BY day, model, kind",
                (day,),
            ).fetchall()
        return [UsageRow(*r) for r in found]

    def close(self) -> None:
        with self._lock:
            self._db.close()
