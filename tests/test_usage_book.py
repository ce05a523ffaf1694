"""The usage book (agent/store/usage_book.py) on SQLite and on PostgreSQL: each request adds to
its day's row, two writers (replicas) adding at once both count, and a read starts at a day."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.store.usage_book import SqliteUsageBook, UsageBook, UsageRow


@pytest.fixture(params=["sqlite", "postgres"])
def books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[UsageBook, UsageBook]]:
    """Two books on the same storage, as two agent replicas have."""
    if request.param == "sqlite":
        first: UsageBook = SqliteUsageBook(tmp_path / "usage.sqlite3")
        second: UsageBook = SqliteUsageBook(tmp_path / "usage.sqlite3")
    else:
        from agent.store.postgres_usage_book import PostgresUsageBook

        url = request.getfixturevalue("postgres_url")
        first, second = PostgresUsageBook(url), PostgresUsageBook(url)
        _empty(first)  # the module's database is shared by its tests
    yield first, second
    first.close()
    second.close()


def _empty(book: UsageBook) -> None:
    from agent.store.postgres_usage_book import PostgresUsageBook

    assert isinstance(book, PostgresUsageBook)
    with book._pool.connection() as db:
        db.execute("DELETE FROM llm_usage_daily")


def request(day: str, kind: str = "generation", tokens: int = 100) -> UsageRow:
    return UsageRow(day, "gpt-4.1", kind, 1, tokens, tokens // 10)


def test_requests_add_up_per_day_model_and_kind_across_writers(
    books: tuple[UsageBook, UsageBook],
) -> None:
    first, second = books
    with ThreadPoolExecutor(4) as pool:
        for book in (first, second) * 25:
            pool.submit(book.add, request("2026-03-02"))
    first.add(request("2026-03-02", kind="embedding", tokens=7))
    second.add(request("2026-03-01"))

    assert first.since("2026-03-02") == [
        UsageRow("2026-03-02", "gpt-4.1", "embedding", 1, 7, 0),
        UsageRow("2026-03-02", "gpt-4.1", "generation", 50, 5000, 500),
    ]
    assert [r.day for r in second.since("2026-01-01")] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-02",
    ]


def test_what_an_answer_billed_is_read_from_its_usage_only() -> None:
    from agent.nlp.gateway_usage import billed_tokens, request_kind

    assert request_kind("/v1/chat/completions") == "generation"
    assert request_kind("/openai/deployments/my-emb/embeddings") == "embedding"
    assert request_kind("/v1/models") is None
    assert billed_tokens({"usage": {"prompt_tokens": 120, "completion_tokens": 7}}) == (120, 7)
    assert billed_tokens({"usage": {"prompt_tokens": 9, "total_tokens": 9}}) == (9, 0)
    unbilled: object
    for unbilled in ({}, {"usage": None}, {"usage": {"prompt_tokens": "many"}}, [], "x"):
        assert billed_tokens(unbilled) == (0, 0)
