"""The filter translation shared by the document stores (agent/store/filter_sql.py).

Each filter is compiled with the SQLite dialect, run on an in-memory SQLite database and compared
with Parlant's own `matches_filters`; what may not run as SQL must say so (Untranslatable). The
store-level comparison with hypothesis is in test_sqlite_document_store.py; these run in
milliseconds, so `make mutation` can run them against every mutant.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from parlant.core.persistence.common import Cursor, ObjectId, SortDirection, matches_filters
from parlant.core.persistence.document_database import CollectionIndex

from agent.store.filter_sql import FieldStats, Untranslatable, index_description, page
from agent.store.sqlite_documents import _field_stats, _FilterCompiler

DOCS: list[dict[str, Any]] = [
    {"id": "e1", "session_id": "s1", "offset": 0, "kind": "message", "deleted": False},
    {"id": "e2", "session_id": "s1", "offset": 1, "kind": "tool", "deleted": False},
    {"id": "e3", "session_id": "s1", "offset": 2, "kind": "message", "deleted": True},
    {"id": "e4", "session_id": "s2", "offset": 0, "kind": "status", "deleted": False},
    {"id": "e5", "session_id": "s2", "offset": 5, "kind": "message", "deleted": False},
]


def stats_of(documents: Sequence[Mapping[str, Any]]) -> FieldStats:
    stats = _field_stats()
    for document in documents:
        stats.add(document)
    return stats


def sql_ids(where: Any, documents: Sequence[Mapping[str, Any]] = DOCS) -> list[str]:
    """The ids SQLite selects with the compiled filter, in insertion order."""
    compiler = _FilterCompiler(stats_of(documents))
    condition = compiler.compile(where)
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE documents (seq INTEGER PRIMARY KEY, body TEXT)")
    database.executemany(
        "INSERT INTO documents (body) VALUES (?)", [(json.dumps(d),) for d in documents]
    )
    rows = database.execute(
        f"SELECT json_extract(body, '$.id') FROM documents WHERE {condition} ORDER BY seq",
        compiler.params,
    )
    return [row[0] for row in rows]


def python_ids(where: Any, documents: Sequence[Mapping[str, Any]] = DOCS) -> list[str]:
    return [d["id"] for d in documents if matches_filters(where, d)]


FILTERS: list[Any] = [
    {},
    {"id": {"$eq": "e2"}},
    {"kind": {"$ne": "message"}},
    {"offset": {"$gt": 0}},
    {"offset": {"$gte": 1}},
    {"offset": {"$lt": 2}},
    {"offset": {"$lte": 1}},
    {"deleted": {"$eq": False}},
    {"deleted": {"$ne": True}, "session_id": {"$eq": "s1"}},
    {"offset": {"$gt": 0, "$lt": 5}},
    {"kind": {"$in": ["tool", "status"]}},
    {"kind": {"$nin": ["tool", "status"]}},
    {"kind": {"$in": []}},
    {"kind": {"$nin": []}},
    {"missing": {"$in": []}},  # any() over nothing never reads the field
    {"missing": {"$nin": []}},
    {"$or": [{"kind": {"$eq": "tool"}}, {"offset": {"$eq": 5}}]},
    {"$and": [{"session_id": {"$eq": "s1"}}, {"offset": {"$gte": 1}}]},
    {"$or": []},
    {"$and": []},
    {"$and": [{"session_id": {"$eq": "s2"}}], "$or": [{"kind": {"$eq": "message"}}]},
    {"$or": [{"session_id": {"$eq": "s2"}}], "ignored": {"$eq": 1}},
    {"$or": [{"kind": {"$eq": "message"}}], "ignored": {}, "$and": [{"offset": {"$gt": 0}}]},
    {"kind": {}},  # no operators: nothing to check
    {"$or": [{"$and": [{"session_id": {"$eq": "s1"}}, {"deleted": {"$eq": True}}]}, {}]},
    {"$or": [{"$and": [{"session_id": {"$eq": "s1"}}, {"kind": {"$eq": "tool"}}]}]},
]


@pytest.mark.parametrize("where", FILTERS, ids=[json.dumps(f) for f in FILTERS])
def test_translated_filters_select_what_parlant_selects(where: Any) -> None:
    assert sql_ids(where) == python_ids(where)


def test_values_are_bound_in_placeholder_order() -> None:
    compiler = _FilterCompiler(stats_of(DOCS))
    where = {"$or": [{"kind": {"$in": ["a", "b"]}}, {"offset": {"$gt": 3}, "id": {"$ne": "x"}}]}
    sql = compiler.compile(where)
    assert compiler.params == ["a", "b", 3, "x"]
    assert sql.count("?") == 4
    assert _FilterCompiler(stats_of(DOCS)).compile({}) == "1"


@pytest.mark.parametrize(
    "where",
    [
        ["not", "a", "mapping"],
        {"id": "e1"},  # an operator map is required
        {"kind": {"$in": "tool"}},  # a string would be iterated by its characters
        {"kind": {"$in": ("tool",)}},
        {"kind": {"$regex": "t.*"}},
        {"$or": {"kind": {"$eq": "tool"}}},
        {"$and": "x"},
        {"missing": {"$eq": 1}},  # Parlant raises KeyError on a missing field
        {"kind": {"$gt": 1}},  # and TypeError ordering a string against a number
        {"$or": [{"kind": {"$eq": "tool"}}, {"missing": {"$eq": 1}}]},
    ],
)
def test_what_sql_could_answer_differently_is_untranslatable(where: Any) -> None:
    with pytest.raises(Untranslatable):
        _FilterCompiler(stats_of(DOCS)).compile(where)


def test_a_field_some_document_lacks_is_untranslatable_until_every_document_has_it() -> None:
    documents: list[dict[str, Any]] = [{"id": "a", "x": 1}, {"id": "b"}]
    stats = stats_of(documents)
    assert stats.kinds_if_everywhere("x") is None
    assert stats.kinds_if_everywhere("id") == {"text"}
    stats.remove(documents[1])
    assert stats.kinds_if_everywhere("x") == {"num"}
    stats.add({"id": "c", "x": "one"})
    assert stats.kinds_if_everywhere("x") == {"num", "text"}
    stats.add_kinds([("id", "text")])
    assert stats.kinds_if_everywhere("x") is None
    assert stats.kinds_if_everywhere("id") == {"text"}


def test_a_removed_kind_no_longer_counts() -> None:
    first, second, third = {"id": "a", "x": 1}, {"id": "b", "x": "s"}, {"id": "c"}
    stats = stats_of([first, second, third])
    stats.remove(second)
    assert stats.kinds_if_everywhere("x") is None  # the third still lacks it
    stats.remove(third)
    assert stats.kinds_if_everywhere("x") == {"num"}
    assert sql_ids({"x": {"$gt": 0}}, [first]) == ["a"]


def test_an_ordering_on_a_field_of_mixed_kinds_is_untranslatable_but_equality_is_not() -> None:
    documents: list[dict[str, Any]] = [{"id": "a", "x": 1}, {"id": "b", "x": "1"}]
    with pytest.raises(Untranslatable):
        _FilterCompiler(stats_of(documents)).compile({"x": {"$lt": 5}})
    for where in ({"x": {"$eq": 1}}, {"x": {"$ne": "1"}}, {"x": {"$in": ["1", 2]}}):
        assert sql_ids(where, documents) == python_ids(where, documents)


def items(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "creation_utc": f"2025-01-0{n}"} for n, i in enumerate(ids, 1)]


def test_a_page_that_holds_everything_has_no_cursor() -> None:
    result = page(items("a", "b"), total_count=2, limit=2)
    assert (list(result.items), result.total_count, result.has_more) == (items("a", "b"), 2, False)
    assert result.next_cursor is None


def test_a_page_with_more_behind_it_points_after_its_last_item() -> None:
    result = page(items("a", "b"), total_count=5, limit=2)
    assert (list(result.items), result.total_count, result.has_more) == (items("a", "b"), 5, True)
    assert result.next_cursor == Cursor(creation_utc="2025-01-02", id=ObjectId("b"))
    empty = page([], total_count=3, limit=0)
    assert empty.has_more and empty.next_cursor is None
    bare = page([{}], total_count=3, limit=1)
    assert bare.next_cursor == Cursor(creation_utc="", id=ObjectId(""))


def test_an_index_description_is_unambiguous_json() -> None:
    index = CollectionIndex(
        fields=[("session_id", SortDirection.ASC), ("offset", SortDirection.DESC)], unique=True
    )
    described = index_description("events", index)
    assert json.loads(described) == [
        "events",
        {"fields": [["session_id", "ASC"], ["offset", "DESC"]], "unique": True},
    ]
    assert index_description("events", CollectionIndex(fields=[("a", SortDirection.ASC)])) != (
        index_description("events", CollectionIndex(fields=[("a", SortDirection.ASC)], unique=True))
    )
