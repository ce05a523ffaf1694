"""A SQLite implementation of Parlant's DocumentDatabase, replacing the JSON-file `local` store.

Parlant's `local` store rewrites a whole collection file on every write (latency grows with
everything stored) and truncates it before writing (a kill mid-write loses everything). Here every
document is one row and every write one transaction, so a write costs the same at any size and
an acknowledged write survives SIGKILL and power loss.

Query semantics are Parlant's in-memory ones (TransientDocumentCollection and matches_filters),
not MongoDB's: a filter is translated to SQL only where that cannot change the outcome, otherwise
the rows are evaluated in Python by Parlant's own code. See agent/store/filter_sql.py for how that is decided.

One SQLiteDocumentDatabase per Parlant store (sessions, customers), as the `local` store keeps one
JSON file per store: every store keeps its schema version in a collection named "metadata".
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from parlant.adapters.db.transient import TransientDocumentCollection
from parlant.core.persistence.common import (
    Cursor,
    SortDirection,
    Where,
    ensure_is_total,
    matches_filters,
)
from parlant.core.persistence.document_database import (
    BaseDocument,
    CollectionIndex,
    CollectionSort,
    DeleteResult,
    DocumentCollection,
    DocumentDatabase,
    FindResult,
    InsertResult,
    TDocument,
    UpdateResult,
)
from typing_extensions import override

from agent.store.filter_sql import (
    FieldStats,
    FilterCompiler,
    Untranslatable,
    index_description,
    page,
)

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# Where documents whose migration failed go, as in Parlant's JSON store.
FAILED_MIGRATIONS = "failed_migrations"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    -- Insertion order: the in-memory stores break ties, and pick the first match, by list position.
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    -- The sort key Parlant uses, creation_utc or "" when absent.
    creation_utc TEXT NOT NULL,
    body TEXT NOT NULL
);
-- Index entries end with the rowid, so this one lists a collection in insertion order, and the
-- next one in find()'s order (creation_utc, id, seq) with its cursor as a range. Not partial per
-- collection: with no ANALYZE statistics the planner would prefer the first to a partial index.
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection);
CREATE INDEX IF NOT EXISTS documents_in_order ON documents (collection, creation_utc, id);
CREATE TABLE IF NOT EXISTS markers (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- The last feed position given out per ordered collection (see SQLiteDocumentDatabase.ordered).
-- A counter rather than max(feed_position): a deleted last event never has its position reused.
CREATE TABLE IF NOT EXISTS feed_counters (
    collection TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Added after the first release: files made before it gain the column on open.
_FEED_COLUMN = "ALTER TABLE documents ADD COLUMN feed_position INTEGER"
_FEED_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS documents_in_feed_order "
    "ON documents (collection, feed_position) WHERE feed_position IS NOT NULL"
)

_JSON_IMPORT_MARKER = "json_import"

_LOAD_BATCH = 2000

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Kinds of top-level values, by how SQLite's json_extract compares them against Python's rules.
_NUM = "num"  # bool, int (64-bit), float: Python and SQLite both compare these numerically
_TEXT = "text"
_NULL = "null"
_OTHER = "other"  # arrays, objects, integers beyond 64 bits: no exact SQL counterpart here


def _kind(value: object) -> str:
    # Strings first: most top-level fields are (and this runs for every field of every document).
    if isinstance(value, str):
        # json_extract returns text only up to its first NUL, so such strings compare wrongly.
        return _OTHER if "\x00" in value else _TEXT
    if isinstance(value, (bool, float)):
        return _NUM
    if isinstance(value, int):
        # SQLite's JSON parser reads wider integers as REAL, which would compare inexactly.
        return _NUM if _INT64_MIN <= value <= _INT64_MAX else _OTHER
    return _NULL if value is None else _OTHER


def _field_stats() -> FieldStats:
    return FieldStats(_kind)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def field_sql(field: str) -> str:
    # SQLite matches a quoted path label against the raw key text in the stored JSON, so only keys
    # that JSON writes without escapes can be addressed exactly.
    if json.dumps(field, ensure_ascii=False) != f'"{field}"':
        raise Untranslatable(field)
    path = f'$."{field}"'
    return f"json_extract(body, {_sql_text(path)})"


def _literal(value: object) -> str | int | float:
    # NaN would bind as NULL and compare unlike Python; lists, dicts and None have no SQL scalar.
    if isinstance(value, float) and not math.isfinite(value):
        raise Untranslatable(value)
    if _kind(value) not in (_NUM, _TEXT):
        raise Untranslatable(value)
    return cast(str | int | float, value)


class _FilterCompiler(FilterCompiler):
    """SQLite's side: json_extract compares numbers (bools as 0/1) and strings as Python does."""

    TRUE = "1"
    FALSE = "0"
    _EQUATABLE = frozenset({_NUM, _TEXT, _NULL})

    @property
    def placeholder(self) -> str:
        return "?"

    def equal(self, field: str, value: object) -> str:
        literal = _literal(value)
        self.checked_kinds(field, self._EQUATABLE)
        # IS, unlike =, is never NULL, so NOT keeps Python's None != x.
        return f"{field_sql(field)} IS {self.bind(literal)}"

    def order(self, field: str, operator: str, value: object) -> str:
        literal = _literal(value)
        self.checked_kinds(field, frozenset({_kind(literal)}))
        return f"{field_sql(field)} {operator} {self.bind(literal)}"


def _encode(document: Mapping[str, Any]) -> str:
    # SQLite's JSON functions reject NaN and Infinity, which would break every query on the row.
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _row_values(document: Mapping[str, Any]) -> tuple[str, str, str]:
    """The id, sort key and body columns. Sorting and cursors compare these as strings, as Parlant
    does, which is only exact if they are strings."""
    doc_id = document.get("id")
    creation_utc = document.get("creation_utc", "")
    if not isinstance(doc_id, str) or not isinstance(creation_utc, str):
        raise TypeError(f"id and creation_utc must be strings: {doc_id!r}, {creation_utc!r}")
    return doc_id, creation_utc, _encode(document)


def _insert(
    connection: sqlite3.Connection,
    collection: str,
    document: Mapping[str, Any],
    ordered: bool = False,
) -> None:
    position = _next_position(connection, collection) if ordered else None
    connection.execute(
        "INSERT INTO documents (collection, id, creation_utc, body, feed_position) "
        "VALUES (?, ?, ?, ?, ?)",
        (collection, *_row_values(document), position),
    )


def _next_position(connection: sqlite3.Connection, collection: str) -> int:
    """The next feed position, taken in the inserting transaction: one connection writes, so
    positions are given out in commit order, with no gaps but those of deleted documents."""
    (position,) = connection.execute(
        "INSERT INTO feed_counters (collection, last) VALUES (?, 1) "
        "ON CONFLICT (collection) DO UPDATE SET last = last + 1 RETURNING last",
        (collection,),
    ).fetchone()
    return int(position)


def _number_unpositioned(connection: sqlite3.Connection, collection: str, seqs: list[int]) -> None:
    """Gives documents stored before feed positions existed (or imported) positions after every
    position given out so far, in their insertion order."""
    for seq in seqs:
        connection.execute(
            "UPDATE documents SET feed_position = ? WHERE seq = ? AND feed_position IS NULL",
            (_next_position(connection, collection), seq),
        )


def _register(connection: sqlite3.Connection, collection: str) -> None:
    connection.execute("INSERT OR IGNORE INTO collections (name) VALUES (?)", (collection,))


def _index_name(collection: str, index: CollectionIndex) -> str:
    # The description itself: unambiguous for any collection or field name; see _index_prefix.
    return index_description(collection, index)


def _index_prefix(collection: str) -> str:
    return json.dumps([collection])[:-1] + ","


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    # Every transaction here writes: IMMEDIATE takes the write lock at BEGIN, so a transaction
    # cannot fail halfway through on upgrading a read lock.
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


class SQLiteDocumentDatabase(DocumentDatabase):
    """Enter it (`async with`) before use; it owns one connection for the life of the context.

    The stdlib sqlite3 module runs on one dedicated thread rather than asyncio.to_thread: a
    connection is single-threaded, one thread serializes all access without a lock, and it keeps
    each operation's check-then-write atomic. aiosqlite would add a dependency for the same design.
    """

    def __init__(self, path: str | Path, ordered: str | None = None) -> None:
        """`ordered` names the one collection whose inserts get a feed position (Parlant's
        `events`): a global order a reader follows with one cursor (agent/store/escalations.py)."""
        self.path = Path(path)
        self.ordered = ordered
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._collections: dict[str, SQLiteDocumentCollection[Any]] = {}
        self._opening = asyncio.Lock()

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-documents")
        self._connection = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._connect
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Closing checkpoints the WAL into the database file and removes it.
        await self.run(lambda connection: connection.close())
        assert self._executor
        self._executor.shutdown()
        self._executor = None
        self._connection = None
        self._collections.clear()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (see transaction), none is implicit.
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            # One process owns the file: field stats live in memory and access is serialized
            # through one connection, so a second writer must fail loudly, not diverge silently.
            # Exclusive mode also lets WAL run without its shared-memory index.
            connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            connection.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL survives a process kill but can lose the last commits on power
            # loss; FULL syncs the WAL on every commit, so an acknowledged write is on disk.
            connection.execute("PRAGMA synchronous = FULL")
            connection.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
            with transaction(connection):
                if "feed_position" not in columns:
                    connection.execute(_FEED_COLUMN)
                connection.execute(_FEED_INDEX)
        except BaseException:
            connection.close()
            raise
        return connection

    async def run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Runs operation with the connection on the database thread, after every operation
        already queued. Also the way to inspect the file while open: the lock keeps others out."""
        if self._executor is None or self._connection is None:
            raise RuntimeError("SQLiteDocumentDatabase is used outside its `async with` block")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, operation, self._connection
        )

    @override
    async def create_collection(
        self,
        name: str,
        schema: type[TDocument],
    ) -> SQLiteDocumentCollection[TDocument]:
        # As Parlant's transient and JSON stores do, creating replaces any existing contents.
        def create(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                connection.execute("DELETE FROM documents WHERE collection = ?", (name,))
                _register(connection, name)

        async with self._opening:
            await self.run(create)
            return self._cache(SQLiteDocumentCollection(self, name, schema, _field_stats()))

    @override
    async def get_collection(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> SQLiteDocumentCollection[TDocument]:
        async with self._opening:
            if cached := self._collections.get(name):
                return cast(SQLiteDocumentCollection[TDocument], cached)
            if not await self.run(lambda c: _exists(c, name)):
                raise ValueError(f'Collection "{name}" does not exist')
            return await self._load(name, schema, document_loader)

    @override
    async def get_or_create_collection(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> SQLiteDocumentCollection[TDocument]:
        async with self._opening:
            if cached := self._collections.get(name):
                return cast(SQLiteDocumentCollection[TDocument], cached)
            return await self._load(name, schema, document_loader)

    @override
    async def delete_collection(self, name: str) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                if not _exists(connection, name):
                    raise ValueError(f'Collection "{name}" does not exist')
                for (index,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'documents'"
                ).fetchall():
                    if index.startswith(_index_prefix(name)):
                        connection.execute(f"DROP INDEX {_sql_name(index)}")
                connection.execute("DELETE FROM documents WHERE collection = ?", (name,))
                connection.execute("DELETE FROM collections WHERE name = ?", (name,))

        async with self._opening:
            await self.run(delete)
            self._collections.pop(name, None)

    def _cache(
        self, collection: SQLiteDocumentCollection[TDocument]
    ) -> SQLiteDocumentCollection[TDocument]:
        self._collections[collection.name] = collection
        return collection

    async def _load(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> SQLiteDocumentCollection[TDocument]:
        """Runs every stored document through the loader (Parlant's schema migrations), as the
        JSON and MongoDB stores do on open: migrated documents are rewritten, and documents the
        loader rejects move to the failed_migrations collection, all in one transaction."""
        stats = _field_stats()
        rewritten: list[tuple[int, Mapping[str, Any]]] = []
        failed: list[tuple[int, BaseDocument]] = []
        unpositioned: list[int] = []
        ordered = name == self.ordered
        last_seq = 0
        while batch := await self.run(partial(_read_batch, name=name, after_seq=last_seq)):
            for seq, body, position in batch:
                document = cast(BaseDocument, json.loads(body))
                try:
                    loaded = await document_loader(document)
                except Exception:
                    _logger.exception("Failed to load document %s of %s", document.get("id"), name)
                    loaded = None
                if loaded is None:
                    _logger.warning(
                        "Moving document %s of %s to %s",
                        document.get("id"),
                        name,
                        FAILED_MIGRATIONS,
                    )
                    failed.append((seq, document))
                    continue
                # Loaders return their argument unchanged when no migration applies.
                if loaded is not document and _encode(loaded) != body:
                    rewritten.append((seq, loaded))
                if ordered and position is None:
                    unpositioned.append(seq)
                stats.add(loaded)
            last_seq = batch[-1][0]

        failed_collection = self._collections.get(FAILED_MIGRATIONS)

        def store_migrations(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                _register(connection, name)
                for seq, document in rewritten:
                    connection.execute(
                        "UPDATE documents SET id = ?, creation_utc = ?, body = ? WHERE seq = ?",
                        (*_row_values(document), seq),
                    )
                if failed:
                    _register(connection, FAILED_MIGRATIONS)
                for seq, document in failed:
                    _insert(connection, FAILED_MIGRATIONS, document)
                    connection.execute("DELETE FROM documents WHERE seq = ?", (seq,))
                _number_unpositioned(connection, name, unpositioned)
            if failed_collection:
                for _, document in failed:
                    failed_collection._stats.add(document)

        await self.run(store_migrations)
        return self._cache(SQLiteDocumentCollection(self, name, schema, stats))


def _exists(connection: sqlite3.Connection, name: str) -> bool:
    return (
        connection.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
        is not None
    )


def _read_batch(
    connection: sqlite3.Connection, name: str, after_seq: int
) -> list[tuple[int, str, int | None]]:
    return connection.execute(
        "SELECT seq, body, feed_position FROM documents WHERE collection = ? AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (name, after_seq, _LOAD_BATCH),
    ).fetchall()


class SQLiteDocumentCollection(DocumentCollection[TDocument]):
    def __init__(
        self,
        database: SQLiteDocumentDatabase,
        name: str,
        schema: type[TDocument],
        stats: FieldStats,
    ) -> None:
        self.name = name
        self._database = database
        self._schema = schema
        # Only touched on the database thread, in the same serialized step as the rows it describes.
        self._stats = stats
        # A literal, not a bound parameter, so the planner can use this collection's partial indexes.
        self._in_collection = f"collection = {_sql_text(name)}"
        self._ordered = name == database.ordered

    def _condition(self, filters: Where) -> tuple[str, list[object]]:
        """The filter as SQL; raises Untranslatable where SQL could disagree with Python."""
        compiler = _FilterCompiler(self._stats)
        condition = compiler.compile(filters)
        return f"{self._in_collection} AND {condition}", compiler.params

    def _documents(
        self,
        connection: sqlite3.Connection,
        where: str | None = None,
        params: Sequence[object] = (),
    ) -> list[TDocument]:
        rows = connection.execute(
            f"SELECT body FROM documents WHERE {where or self._in_collection} ORDER BY seq", params
        )
        return [json.loads(body) for (body,) in rows]

    def _in_memory(self, documents: Sequence[TDocument]) -> TransientDocumentCollection[TDocument]:
        """Parlant's own implementation over a snapshot: the exact fallback. The snapshot is taken
        in the same serialized step that chose to fall back, so it is a consistent state."""
        return TransientDocumentCollection(self.name, self._schema, documents)

    @override
    async def find(
        self,
        filters: Where,
        limit: int | None = None,
        cursor: Cursor | None = None,
        sort_direction: SortDirection | None = None,
    ) -> FindResult[TDocument]:
        descending = sort_direction == SortDirection.DESC
        direction = "DESC" if descending else "ASC"

        def query(connection: sqlite3.Connection) -> FindResult[TDocument] | list[TDocument]:
            try:
                where, params = self._condition(filters)
            except Untranslatable:
                return self._documents(connection)
            if cursor:
                where += f" AND (creation_utc, id) {'<' if descending else '>'} (?, ?)"
                params += [str(cursor.creation_utc), str(cursor.id)]
            # seq ascends in both directions: Python's sort(reverse=True) keeps ties in list order.
            select = (
                f"SELECT body FROM documents WHERE {where} "
                f"ORDER BY creation_utc {direction}, id {direction}, seq"
            )
            if limit is None:
                items = [json.loads(body) for (body,) in connection.execute(select, params)]
                return FindResult(items=items, total_count=len(items), has_more=False)
            (total_count,) = connection.execute(
                f"SELECT count(*) FROM documents WHERE {where}", params
            ).fetchone()
            # A negative LIMIT means none in SQLite, and the slice then cuts as Python's would.
            rows = connection.execute(f"{select} LIMIT ?", [*params, limit]).fetchall()
            items = [json.loads(body) for (body,) in rows][:limit]
            return page(items, total_count, limit)

        result = await self._database.run(query)
        if isinstance(result, FindResult):
            return result
        return await self._in_memory(result).find(filters, limit, cursor, sort_direction)

    @override
    async def find_one(
        self,
        filters: Where,
        sort: CollectionSort | None = None,
    ) -> TDocument | None:
        def query(connection: sqlite3.Connection) -> TDocument | list[TDocument] | None:
            try:
                where, params = self._condition(filters)
            except Untranslatable:
                return self._documents(connection)
            try:
                order = "".join(f"{self._sort_key(field)} {d.name}, " for field, d in sort or ())
            except Untranslatable:
                # The filter is exact in SQL, but sorting its matches may raise in Python.
                return self._documents(connection, where, params)
            row = connection.execute(
                f"SELECT body FROM documents WHERE {where} ORDER BY {order}seq LIMIT 1", params
            ).fetchone()
            return cast(TDocument, json.loads(row[0])) if row else None

        result = await self._database.run(query)
        if not isinstance(result, list):
            return result
        return await self._in_memory(result).find_one(filters, sort)

    def _sort_key(self, field: str) -> str:
        # Python sorts by d.get(field): None, or two kinds that do not compare, raise once two
        # documents meet. Numbers (bools included) and strings each sort alike in SQLite.
        kinds = self._stats.kinds_if_everywhere(field)
        if kinds is None or not (kinds <= {_NUM} or kinds <= {_TEXT}):
            raise Untranslatable(field)
        return field_sql(field)

    @override
    async def ensure_indexes(self, indexes: Sequence[CollectionIndex]) -> None:
        def create(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                for index in indexes:
                    try:
                        keys = ", ".join(f"{field_sql(f)} {d.name}" for f, d in index.fields)
                    except Untranslatable as e:
                        raise ValueError(f"Cannot index field {e.args[0]!r} of {self.name}") from e
                    # Partial: an index only grows with, and is only maintained for, its collection.
                    connection.execute(
                        f"CREATE {'UNIQUE ' if index.unique else ''}INDEX IF NOT EXISTS "
                        f"{_sql_name(_index_name(self.name, index))} "
                        f"ON documents ({keys}) WHERE {self._in_collection}"
                    )

        await self._database.run(create)

    @override
    async def insert_one(self, document: TDocument) -> InsertResult:
        ensure_is_total(document, self._schema)

        def insert(connection: sqlite3.Connection) -> None:
            with transaction(connection):
                _insert(connection, self.name, document, self._ordered)
            self._stats.add(document)

        await self._database.run(insert)
        return InsertResult(acknowledged=True)

    def _first_match(
        self, connection: sqlite3.Connection, filters: Where
    ) -> tuple[int, TDocument] | None:
        """The first match in insertion order, as the in-memory stores' scan finds it."""
        try:
            where, params = self._condition(filters)
        except Untranslatable:
            # Stop at the first match as Parlant's scan does, so later documents never raise.
            rows = connection.execute(
                f"SELECT seq, body FROM documents WHERE {self._in_collection} ORDER BY seq"
            )
            for seq, body in rows:
                if matches_filters(filters, document := json.loads(body)):
                    return seq, document
            return None
        row = connection.execute(
            f"SELECT seq, body FROM documents WHERE {where} ORDER BY seq LIMIT 1", params
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    @override
    async def update_one(
        self,
        filters: Where,
        params: TDocument,
        upsert: bool = False,
    ) -> UpdateResult[TDocument]:
        def update(connection: sqlite3.Connection) -> UpdateResult[TDocument]:
            with transaction(connection):
                match = self._first_match(connection, filters)
                if match is None and not upsert:
                    return UpdateResult(
                        acknowledged=True, matched_count=0, modified_count=0, updated_document=None
                    )
                if match is None:
                    ensure_is_total(params, self._schema)
                    _insert(connection, self.name, params, self._ordered)
                    replaced, stored = None, params
                else:
                    seq, replaced = match
                    stored = cast(TDocument, {**replaced, **params})
                    connection.execute(
                        "UPDATE documents SET id = ?, creation_utc = ?, body = ? WHERE seq = ?",
                        (*_row_values(stored), seq),
                    )
            if replaced is not None:
                self._stats.remove(replaced)
            self._stats.add(stored)
            matched = int(match is not None)
            return UpdateResult(
                acknowledged=True,
                matched_count=matched,
                modified_count=matched,
                updated_document=stored,
            )

        return await self._database.run(update)

    @override
    async def delete_one(self, filters: Where) -> DeleteResult[TDocument]:
        def delete(connection: sqlite3.Connection) -> DeleteResult[TDocument]:
            with transaction(connection):
                match = self._first_match(connection, filters)
                if match:
                    connection.execute("DELETE FROM documents WHERE seq = ?", (match[0],))
            if not match:
                return DeleteResult(acknowledged=True, deleted_count=0, deleted_document=None)
            self._stats.remove(match[1])
            return DeleteResult(acknowledged=True, deleted_count=1, deleted_document=match[1])

        return await self._database.run(delete)


async def import_json_store(json_path: str | Path, sqlite_db: SQLiteDocumentDatabase) -> bool:
    """Imports a Parlant `local` store file (e.g. sessions.json: {collection: [documents]}) into an
    empty, entered SQLite database, before any collection of it is opened. Returns False without
    doing anything if this database has had an import before.

    Documents are copied as stored, not migrated: the store's loaders migrate them when it opens
    its collections, exactly as they would have from the JSON file. The rows and a marker commit
    in one transaction, so an import happens entirely or not at all, and never twice. The JSON file
    is left untouched: it stays a backup and a way back to the `local` store, and the marker, not
    the file's presence, decides whether to import.
    """
    if sqlite_db._collections:
        raise RuntimeError("Import before opening collections: their field stats would go stale")
    source = Path(json_path)

    def copy(connection: sqlite3.Connection) -> bool:
        if connection.execute(
            "SELECT 1 FROM markers WHERE name = ?", (_JSON_IMPORT_MARKER,)
        ).fetchone():
            return False
        text = source.read_text(encoding="utf-8")
        # The JSON store reads an empty file as an empty store; a kill mid-write leaves one.
        data = json.loads(text) if text else {}
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ValueError(f"{source} is not a Parlant JSON store ({{collection: [documents]}})")
        counts = {name: len(documents) for name, documents in data.items()}
        with transaction(connection):
            if connection.execute("SELECT 1 FROM documents LIMIT 1").fetchone():
                raise RuntimeError(f"{sqlite_db.path} already holds documents; not importing")
            for name, documents in data.items():
                _register(connection, name)
                connection.executemany(
                    "INSERT INTO documents (collection, id, creation_utc, body) VALUES (?, ?, ?, ?)",
                    ((name, *_row_values(document)) for document in documents),
                )
            marker = {
                "source": str(source.resolve()),
                "imported_utc": datetime.now(UTC).isoformat(),
                "documents": counts,
            }
            connection.execute(
                "INSERT INTO markers (name, value) VALUES (?, ?)",
                (_JSON_IMPORT_MARKER, json.dumps(marker)),
            )
        _logger.info("Imported %s into %s: %s", source, sqlite_db.path, counts)
        return True

    return await sqlite_db.run(copy)
