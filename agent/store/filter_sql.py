"""Parlant's Mongo-style filters as SQL, shared by the SQLite and PostgreSQL document stores.

Pure: no database here. Parlant's reference semantics are `matches_filters` (Python comparisons,
KeyError on a missing field, TypeError on an ordering between incomparable types). A filter is
translated only where SQL cannot give a different answer; otherwise the compiler raises
Untranslatable and the store evaluates Parlant's own Python over a consistent snapshot.

What is shared: the walk over the filter (logical operators and their quirks, empty `$in`, which
shapes are refused), the field statistics that prove no document can make Python raise, and how
a page of results and its cursor are made. What
each dialect supplies: how a stored value's kind is classified (which values its JSON functions
compare exactly as Python does) and the SQL for an equality, an ordering and a field reference.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from parlant.core.persistence.common import Cursor, ObjectId
from parlant.core.persistence.document_database import CollectionIndex, FindResult


def page(items: list[Any], total_count: int, limit: int) -> FindResult[Any]:
    """A limited find's result, as Parlant's stores give it: the cursor after the last item."""
    if total_count <= limit:
        return FindResult(items=items, total_count=total_count, has_more=False)
    next_cursor = (
        Cursor(
            creation_utc=str(items[-1].get("creation_utc", "")),
            id=ObjectId(str(items[-1].get("id", ""))),
        )
        if items
        else None
    )
    return FindResult(items=items, total_count=total_count, has_more=True, next_cursor=next_cursor)


def index_description(collection: str, index: CollectionIndex) -> str:
    """An index's collection, fields and uniqueness as JSON: unambiguous for any names."""
    fields = [[field, direction.name] for field, direction in index.fields]
    return json.dumps([collection, {"fields": fields, "unique": index.unique}])


ORDERING_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class Untranslatable(Exception):
    """The filter or sort cannot be expressed in SQL with exactly Parlant's semantics."""


class FieldStats:
    """Which top-level fields every document of a collection has, and the kinds of their values.

    matches_filters raises on a missing field (KeyError) and on an ordering between incomparable
    types (TypeError), and which documents it raises on depends on evaluation order. SQL would
    silently skip those documents instead. A filter therefore runs as SQL only when these counts
    prove no document can make it raise; then its result is a plain boolean and SQL agrees.
    """

    def __init__(self, kind: Callable[[object], str]) -> None:
        self._kind = kind
        self._documents = 0
        self._counts: Counter[tuple[str, str]] = Counter()  # (field, kind) -> documents

    def add(self, document: Mapping[str, Any]) -> None:
        self.add_kinds([(field, self._kind(value)) for field, value in document.items()])

    def add_kinds(self, field_kinds: Iterable[tuple[str, str]]) -> None:
        """Counts one document with exactly these (field, kind) pairs."""
        self._documents += 1
        self._counts.update(field_kinds)

    def remove(self, document: Mapping[str, Any]) -> None:
        self._documents -= 1
        self._counts.subtract([(field, self._kind(value)) for field, value in document.items()])

    def kinds_if_everywhere(self, field: str) -> set[str] | None:
        """The kinds a field takes, or None if some document lacks it."""
        counts = {kind: n for (f, kind), n in self._counts.items() if f == field and n > 0}
        if sum(counts.values()) != self._documents:
            return None
        return set(counts)


class FilterCompiler(ABC):
    """Translates a Where into an SQL boolean that is never NULL, mirroring matches_filters.

    `params` collects the bound values in the order of the placeholders in the returned SQL.
    """

    TRUE = "TRUE"
    FALSE = "FALSE"

    def __init__(self, stats: FieldStats) -> None:
        self.stats = stats
        self.params: list[object] = []

    def compile(self, where: object) -> str:
        if not where:
            return self.TRUE
        if not isinstance(where, Mapping):
            raise Untranslatable(where)
        if next(iter(where)) in ("$and", "$or"):
            return self._logical(where)
        clauses: list[str] = []
        for field, operators in where.items():
            if not isinstance(operators, Mapping):
                raise Untranslatable(operators)
            clauses.extend(self._leaf(field, op, value) for op, value in operators.items())
        return self.join(clauses, "AND", self.TRUE)

    def _logical(self, where: Mapping[str, Any]) -> str:
        clauses = []
        for op, operands in where.items():
            # matches_filters ignores any other key next to a logical operator.
            if op not in ("$and", "$or"):
                continue
            if not isinstance(operands, (list, tuple)):
                raise Untranslatable(operands)
            parts = [self.compile(o) for o in operands]
            clauses.append(
                self.join(parts, "AND", self.TRUE)
                if op == "$and"
                else self.join(parts, "OR", self.FALSE)
            )
        return self.join(clauses, "AND", self.TRUE)

    def _leaf(self, field: str, op: str, value: object) -> str:
        if op in ("$in", "$nin"):
            # matches_filters would iterate any iterable (a string by its characters).
            if not isinstance(value, list):
                raise Untranslatable(value)
            if not value:
                # any() over nothing never reads the field, so a missing field does not raise.
                return self.FALSE if op == "$in" else self.TRUE
            any_equal = self.join([self.equal(field, v) for v in value], "OR", self.FALSE)
            return any_equal if op == "$in" else f"NOT {any_equal}"
        if op == "$eq":
            return self.equal(field, value)
        if op == "$ne":
            return f"NOT {self.equal(field, value)}"
        if op in ORDERING_OPERATORS:
            return self.order(field, ORDERING_OPERATORS[op], value)
        raise Untranslatable(op)

    def bind(self, value: object) -> str:
        """A placeholder for value, which is appended to params."""
        self.params.append(value)
        return self.placeholder

    def checked_kinds(self, field: str, allowed: frozenset[str]) -> set[str]:
        """The field's kinds, if every document has it with one of `allowed`."""
        kinds = self.stats.kinds_if_everywhere(field)
        if kinds is None or not kinds <= allowed:
            raise Untranslatable(field)
        return kinds

    @property
    @abstractmethod
    def placeholder(self) -> str: ...

    @abstractmethod
    def equal(self, field: str, value: object) -> str:
        """SQL that is true exactly when Python's `document[field] == value`, never NULL."""

    @abstractmethod
    def order(self, field: str, operator: str, value: object) -> str:
        """SQL for `document[field] <operator> value`, where Python cannot raise."""

    @staticmethod
    def join(clauses: Sequence[str], connective: str, empty: str) -> str:
        return "(" + f" {connective} ".join(clauses) + ")" if clauses else empty
