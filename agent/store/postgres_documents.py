"""Parlant's DocumentDatabase on PostgreSQL, shared by several agent replicas.

Documents are JSONB rows in one table; Parlant's `ensure_indexes` become partial expression
indexes on it. Query semantics are Parlant's in-memory ones (TransientDocumentCollection and
matches_filters), as in the SQLite store: a filter runs as SQL only where that cannot change the
outcome (agent/store/filter_sql.py), otherwise Parlant's own Python runs over a snapshot.

Unlike SQLite, several processes write: nothing a process remembers about the data can be
trusted. The field statistics that decide whether a filter is exact in SQL are therefore read
from the database with each operation, cheaply: every row records its *shape* (its top-level
fields and the kind of each value, a small id into `parlant_shapes`), and the distinct shapes
of a collection are a few probes of the (collection, shape) index. Reads run in one REPEATABLE
READ snapshot; writes that read first (update, delete) hold the collection's advisory lock, so
their check-then-write is atomic across replicas, as one SQLite connection made it in one process.

JSONB normalises what it stores (key order, number spellings such as 1e+16, -0.0, and it cannot
hold NUL characters), so a document it would not give back exactly also keeps its JSON text in
`exact`, and that is what is read back.

One PostgresDocumentDatabase per Parlant store (sessions, customers): its `namespace` prefixes
every collection name, as the SQLite store keeps one file per store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

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
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool
from typing_extensions import override

from agent.store.event_offsets import NumberedWithin, OffsetTaken
from agent.store.filter_sql import (
    FieldStats,
    FilterCompiler,
    Untranslatable,
    index_description,
    page,
)

_logger = logging.getLogger(__name__)

# Where documents whose migration failed go, as in Parlant's JSON store.
FAILED_MIGRATIONS = "failed_migrations"

# Advisory lock keys are (class, key) pairs; this class keeps ours apart from anyone else's.
_LOCK_CLASS = 0x50524C54  # "PRLT"
_SCHEMA_LOCK = 0
# A second class for the per-group locks of numbered inserts (NumberedWithin), keyed by a hash of
# the collection and group: they never wait on the collection locks above, nor these on them.
_GROUP_LOCK_CLASS = 0x50524C4E  # "PRLN"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parlant_collections (name text COLLATE "C" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS parlant_shapes (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- JSON: sorted [field, kind] pairs.
    signature text NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS parlant_documents (
    -- Insertion order: the in-memory stores break ties, and pick the first match, by list position.
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection text COLLATE "C" NOT NULL,
    -- Sorting and cursors compare these as Python compares str: by code point, which is what
    -- the C collation does on UTF-8.
    id text COLLATE "C" NOT NULL,
    creation_utc text COLLATE "C" NOT NULL,
    shape integer NOT NULL,
    body jsonb NOT NULL,
    exact text
);
CREATE INDEX IF NOT EXISTS parlant_documents_by_seq ON parlant_documents (collection, seq);
CREATE INDEX IF NOT EXISTS parlant_documents_in_order
    ON parlant_documents (collection, creation_utc, id, seq);
CREATE INDEX IF NOT EXISTS parlant_documents_by_shape ON parlant_documents (collection, shape);
CREATE TABLE IF NOT EXISTS parlant_indexes (
    name text PRIMARY KEY,
    collection text COLLATE "C" NOT NULL
);
-- Feed positions (added after the first release, so existing tables gain the column).
ALTER TABLE parlant_documents ADD COLUMN IF NOT EXISTS feed_position bigint;
CREATE UNIQUE INDEX IF NOT EXISTS parlant_documents_in_feed_order
    ON parlant_documents (collection, feed_position) WHERE feed_position IS NOT NULL;
-- The last position given out per ordered collection. Its row is locked by each insert until
-- commit, so positions are taken, and become visible, in commit order (see insert_row). Last in
-- the schema: its existence says the whole schema is there.
CREATE TABLE IF NOT EXISTS parlant_feed_counters (
    collection text COLLATE "C" PRIMARY KEY,
    last bigint NOT NULL
);
"""

# One statement, so an ordered insert costs no extra round trip: the counter row's lock is held
# until the transaction ends, so the next insert waits for this commit and then reads its value.
_INSERT_ORDERED = """
WITH next AS (
    UPDATE parlant_feed_counters SET last = last + 1 WHERE collection = %s RETURNING last
)
INSERT INTO parlant_documents (collection, id, creation_utc, shape, body, exact, feed_position)
SELECT %s, %s, %s, %s, %s::jsonb, %s, last FROM next
"""

# The distinct shapes of one collection: one index probe per shape (a loose index scan).
_SHAPES_OF_COLLECTION = """
WITH RECURSIVE shapes AS (
    (SELECT shape FROM parlant_documents WHERE collection = %(c)s ORDER BY shape LIMIT 1)
    UNION ALL
    SELECT (
        SELECT d.shape FROM parlant_documents d
        WHERE d.collection = %(c)s AND d.shape > shapes.shape ORDER BY d.shape LIMIT 1
    ) FROM shapes WHERE shapes.shape IS NOT NULL
)
SELECT shape FROM shapes WHERE shape IS NOT NULL
"""

# For change_schema: whether every table or index named in the one parameter (a list) exists.
RELATIONS_EXIST = (
    "(SELECT coalesce(bool_and(to_regclass(n) IS NOT NULL), true) FROM unnest(%s::text[]) n)"
)

# A document as its exact JSON text (see the module doc on `exact`).
DOCUMENT_TEXT = "coalesce(exact, body::text)"
_READ = DOCUMENT_TEXT
_LOAD_BATCH = 2000

# Kinds of top-level values, by how PostgreSQL's jsonb compares them against Python's rules.
_NUM = "num"  # int and float within ±2**53: jsonb numeric order is Python's order for these
_BOOL = "bool"  # jsonb orders booleans apart from numbers; Python compares them as 0 and 1
_TEXT = "text"
_NULL = "null"
_OTHER = "other"  # arrays, objects, wider numbers, strings with NUL: no exact SQL counterpart

# Beyond this, a float's shortest spelling (what JSON stores) is not always its exact value, so
# numeric comparisons with integers could disagree with Python's exact int/float comparison.
_EXACT_NUMBERS = 2**53


def _kind(value: object) -> str:
    if isinstance(value, str):
        # jsonb cannot hold NUL; such a string is stored altered (see _jsonb_safe).
        return _OTHER if "\x00" in value else _TEXT
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, (int, float)):
        return _NUM if -_EXACT_NUMBERS <= value <= _EXACT_NUMBERS else _OTHER
    return _NULL if value is None else _OTHER


def _signature(document: Mapping[str, Any]) -> str:
    pairs = sorted((field, _kind(value)) for field, value in document.items())
    # A key with NUL is stored with U+FFFD in its place (jsonb cannot hold NUL): the altered name
    # is marked as of no exact kind, so no filter on it runs as SQL.
    pairs += [(f.replace("\x00", "\ufffd"), _OTHER) for f in document if "\x00" in f]
    return json.dumps(sorted(pairs))


def _exactly_stored(value: object) -> bool:
    """Whether jsonb gives this value back as json.loads would read its JSON text."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        # jsonb keeps numbers as numeric: 1e+16 comes back as an int, -0.0 as 0.0.
        return False
    if isinstance(value, Mapping):
        return all(_exactly_stored(k) and _exactly_stored(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_exactly_stored(v) for v in value)
    return True


def _jsonb_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {_jsonb_safe(k): _jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonb_safe(v) for v in value]
    return value


def _encode(value: object) -> str:
    # NaN and Infinity are not JSON; jsonb rejects them.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class _Row:
    id: str
    creation_utc: str
    body: str
    exact: str | None
    signature: str


def _row(document: Mapping[str, Any]) -> _Row:
    """The columns of a document. Sorting and cursors compare id and creation_utc as strings, as
    Parlant does, which is only exact if they are strings."""
    doc_id = document.get("id")
    creation_utc = document.get("creation_utc", "")
    if not isinstance(doc_id, str) or not isinstance(creation_utc, str):
        raise TypeError(f"id and creation_utc must be strings: {doc_id!r}, {creation_utc!r}")
    if "\x00" in doc_id + creation_utc:
        # PostgreSQL text cannot hold NUL, and a stand-in would sort differently.
        raise ValueError(f"id and creation_utc cannot contain NUL: {doc_id!r}, {creation_utc!r}")
    text = _encode(document)
    if _exactly_stored(document):
        return _Row(doc_id, creation_utc, text, None, _signature(document))
    return _Row(doc_id, creation_utc, _encode(_jsonb_safe(document)), text, _signature(document))


def _sql_text(value: str) -> str:
    """A string literal for SQL run with psycopg parameters (where % is special)."""
    if "\x00" in value:
        raise Untranslatable(value)
    return "'" + value.replace("'", "''").replace("%", "%%") + "'"


def field_json(field: str) -> str:
    """The field as jsonb; a literal key, so the planner can match the expression indexes."""
    return f"(body -> {_sql_text(field)})"


def _field_text(field: str) -> str:
    # Python compares str by code point; the C collation on UTF-8 does the same.
    return f'((body ->> {_sql_text(field)}) COLLATE "C")'


def _literal(value: object) -> str:
    """The filter value as JSON text for a jsonb parameter."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Untranslatable(value)
    if _kind(value) not in (_NUM, _BOOL, _TEXT, _NULL):
        raise Untranslatable(value)
    return _encode(value)


class _FilterCompiler(FilterCompiler):
    """PostgreSQL's side: jsonb equality and order agree with Python within a kind, and jsonb
    values of different kinds are unequal, as in Python, except booleans against numbers."""

    _EQUATABLE = frozenset({_NUM, _BOOL, _TEXT, _NULL})

    @property
    def placeholder(self) -> str:
        return "%s"

    def equal(self, field: str, value: object) -> str:
        literal = _literal(value)
        kinds = self.checked_kinds(field, self._EQUATABLE)
        # Python's True == 1; jsonb's true is never a number.
        if (_kind(value) == _BOOL and _NUM in kinds) or (_kind(value) == _NUM and _BOOL in kinds):
            raise Untranslatable(field)
        # The field is in every document, so the jsonb value is never SQL NULL.
        return f"{field_json(field)} = {self.bind(literal)}::jsonb"

    def order(self, field: str, operator: str, value: object) -> str:
        literal = _literal(value)
        kind = _kind(value)
        if kind == _NULL:
            raise Untranslatable(value)  # Python raises TypeError
        self.checked_kinds(field, frozenset({kind}))
        if kind == _TEXT:
            return f"{_field_text(field)} {operator} {self.bind(value)}"
        return f"{field_json(field)} {operator} {self.bind(literal)}::jsonb"


def _sort_key(field: str, stats: FieldStats) -> str:
    # Python sorts by d.get(field): None, or two kinds that do not compare, raise once two
    # documents meet; booleans sort among numbers in Python but apart in jsonb.
    kinds = stats.kinds_if_everywhere(field)
    if kinds is None or not kinds or len(kinds) > 1 or not kinds <= {_NUM, _BOOL, _TEXT}:
        raise Untranslatable(field)
    return _field_text(field) if kinds == {_TEXT} else field_json(field)


def _index_name(collection: str, index: CollectionIndex) -> str:
    # PostgreSQL names are at most 63 bytes: a digest of the full description.
    description = index_description(collection, index)
    return "parlant_ix_" + hashlib.sha256(description.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class ChangeAnnouncement:
    """Writes to `collection` send pg_notify(channel, document[key]) in their transaction, so
    processes listening on the channel learn of them once they are committed."""

    channel: str
    collection: str
    key: str


class PostgresDocumentDatabase(DocumentDatabase):
    """Enter it (`async with`) before use. Borrows connections from `pool` (autocommit on), which
    the caller owns: several stores of one process share one pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        namespace: str,
        announce: ChangeAnnouncement | None = None,
        ordered: str | None = None,
        numbered: NumberedWithin | None = None,
    ) -> None:
        """`ordered` names the one collection whose inserts get a feed position (Parlant's
        `events`): a global order, gap-free in commit order, that a reader follows with one
        cursor (agent/store/escalations.py). `numbered`: inserts into its collection whose
        number is taken in their group raise OffsetTaken (agent/store/event_offsets.py)."""
        self._pool = pool
        self.namespace = namespace
        self._announce = announce
        self.ordered = ordered
        self.numbered = numbered
        self._collections: dict[str, PostgresDocumentCollection[Any]] = {}
        # Shape ids never change meaning once created, so this cache is safe across replicas.
        self._shape_ids: dict[str, int] = {}
        self._shape_signatures: dict[int, list[tuple[str, str]]] = {}

    async def __aenter__(self) -> Self:
        await self._create_schema()
        if self.ordered is not None:
            async with self._pool.connection() as connection:
                await connection.execute(
                    "INSERT INTO parlant_feed_counters (collection, last) VALUES (%s, 0) "
                    "ON CONFLICT DO NOTHING",
                    (self.qualified(self.ordered),),
                )
        return self

    async def _create_schema(self) -> None:
        async def create(connection: AsyncConnection[Any]) -> None:
            # One statement at a time: pipeline mode runs no multi-statement strings.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                await connection.execute(statement)

        # The last table of the schema: its existence says the whole schema is there.
        await self.change_schema(
            "the document tables", "to_regclass('parlant_feed_counters') IS NOT NULL", (), create
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._collections.clear()

    def qualified(self, name: str) -> str:
        return f"{self.namespace}:{name}"

    @asynccontextmanager
    async def transaction(self, begin: str = "BEGIN") -> AsyncIterator[AsyncConnection[Any]]:
        """A transaction in pipeline mode: statements whose results are not read yet travel
        together, so an insert with its lock, notification and COMMIT is one round trip."""
        async with self._pool.connection() as connection:
            try:
                async with connection.pipeline():
                    await connection.execute(begin)
                    yield connection
                    await connection.execute("COMMIT")
            except BaseException:
                if connection.info.transaction_status != TransactionStatus.IDLE:
                    await connection.execute("ROLLBACK")
                raise

    async def change_schema(
        self,
        what: str,
        present: str,
        params: Sequence[object],
        apply: Callable[[AsyncConnection[Any]], Awaitable[None]],
    ) -> None:
        """Every schema change of the agent's stores (tables, columns, indexes, triggers) goes
        through here, in one transaction holding the schema lock: replicas starting together
        make each change once, one after the other.

        `present` is a boolean SQL expression over the catalogs (it locks no table) saying
        whether the change is made already; asked under the lock, so a replica that waited for
        another's change skips it. It must: even a no-op `CREATE INDEX IF NOT EXISTS` or `ADD COLUMN IF NOT
        EXISTS` locks parlant_documents, and two agents started at once deadlocked (6 of 8
        paired starts) when one's DDL took SHARE, then wanted ACCESS EXCLUSIVE, while the other,
        already reading and writing, held ACCESS SHARE and wanted ROW EXCLUSIVE. For the same
        reason a change that does run takes ACCESS EXCLUSIVE on parlant_documents first: it
        then only waits for the writers in flight and never upgrades a lock under them."""
        async with self.transaction() as connection:
            await self.lock_schema(connection)
            row = await (
                await connection.execute(
                    f"SELECT {present}, to_regclass('parlant_documents') IS NOT NULL", params
                )
            ).fetchone()
            assert row is not None
            made, table_exists = row
            if made:
                return
            if table_exists:
                await connection.execute("LOCK TABLE parlant_documents IN ACCESS EXCLUSIVE MODE")
            await apply(connection)
        _logger.info("schema: created %s", what)

    async def lock_schema(self, connection: AsyncConnection[Any]) -> None:
        """Held while changing the schema (see change_schema)."""
        await connection.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _SCHEMA_LOCK)
        )

    def snapshot(self) -> Any:
        """A read-only transaction that sees one consistent state throughout."""
        return self.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    async def lock(self, connection: AsyncConnection[Any], collection: str, shared: bool) -> None:
        """Writers that read first hold it exclusively; inserts, which read nothing, share it."""
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        await connection.execute(
            f"SELECT {function}(%s, hashtext(%s))", (_LOCK_CLASS, self.qualified(collection))
        )

    async def shape_id(self, signature: str, connection: AsyncConnection[Any]) -> int:
        """The id of a shape, created if new, on `connection` (inside its transaction, if any:
        a second connection from the pool could deadlock a full pool)."""
        if (known := self._shape_ids.get(signature)) is not None:
            return known
        await connection.execute(
            "INSERT INTO parlant_shapes (signature) VALUES (%s) ON CONFLICT DO NOTHING",
            (signature,),
        )
        row = await (
            await connection.execute(
                "SELECT id FROM parlant_shapes WHERE signature = %s", (signature,)
            )
        ).fetchone()
        assert row is not None
        # Remembered only once committed: a rolled-back transaction takes its new shape with it.
        if connection.info.transaction_status == TransactionStatus.IDLE:
            self._shape_ids[signature] = row[0]
        return cast(int, row[0])

    async def known_shape(self, signature: str) -> None:
        """Resolves a shape's id outside any transaction, so it is remembered (see shape_id)."""
        if signature not in self._shape_ids:
            async with self._pool.connection() as connection:
                await self.shape_id(signature, connection)

    async def field_stats(self, connection: AsyncConnection[Any], collection: str) -> FieldStats:
        """The collection's field statistics as of the connection's current snapshot."""
        shapes = await (
            await connection.execute(_SHAPES_OF_COLLECTION, {"c": self.qualified(collection)})
        ).fetchall()
        unknown = [shape for (shape,) in shapes if shape not in self._shape_signatures]
        if unknown:
            rows = await connection.execute(
                "SELECT id, signature FROM parlant_shapes WHERE id = ANY(%s)", (unknown,)
            )
            async for shape, signature in rows:
                self._shape_signatures[shape] = [tuple(p) for p in json.loads(signature)]
        # One pseudo-document per shape: a field is in every document exactly when it is in
        # every shape, and takes the kinds the shapes give it; how many documents share a shape
        # does not matter (and counting them would read the whole collection).
        stats = FieldStats(_kind)
        for (shape,) in shapes:
            stats.add_kinds(self._shape_signatures[shape])
        return stats

    async def announce(
        self, connection: AsyncConnection[Any], collection: str, document: Mapping[str, Any]
    ) -> None:
        if self._announce is None or collection != self._announce.collection:
            return
        key = document.get(self._announce.key)
        if isinstance(key, str):
            await connection.execute("SELECT pg_notify(%s, %s)", (self._announce.channel, key))

    @override
    async def create_collection(
        self,
        name: str,
        schema: type[TDocument],
    ) -> PostgresDocumentCollection[TDocument]:
        # As Parlant's transient and JSON stores do, creating replaces any existing contents.
        async with self.transaction() as connection:
            await self.lock(connection, name, shared=False)
            await connection.execute(
                "DELETE FROM parlant_documents WHERE collection = %s", (self.qualified(name),)
            )
            await _register(connection, self.qualified(name))
        return self._cache(PostgresDocumentCollection(self, name, schema))

    @override
    async def get_collection(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> PostgresDocumentCollection[TDocument]:
        if cached := self._collections.get(name):
            return cast(PostgresDocumentCollection[TDocument], cached)
        async with self._pool.connection() as connection:
            exists = await (
                await connection.execute(
                    "SELECT 1 FROM parlant_collections WHERE name = %s", (self.qualified(name),)
                )
            ).fetchone()
        if not exists:
            raise ValueError(f'Collection "{name}" does not exist')
        return await self._load(name, schema, document_loader)

    @override
    async def get_or_create_collection(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> PostgresDocumentCollection[TDocument]:
        if cached := self._collections.get(name):
            return cast(PostgresDocumentCollection[TDocument], cached)
        return await self._load(name, schema, document_loader)

    @override
    async def delete_collection(self, name: str) -> None:
        qualified = self.qualified(name)
        async with self.transaction() as connection:
            await self.lock(connection, name, shared=False)
            exists = await (
                await connection.execute(
                    "DELETE FROM parlant_collections WHERE name = %s RETURNING 1", (qualified,)
                )
            ).fetchone()
            if not exists:
                raise ValueError(f'Collection "{name}" does not exist')
            indexes = await (
                await connection.execute(
                    "DELETE FROM parlant_indexes WHERE collection = %s RETURNING name",
                    (qualified,),
                )
            ).fetchall()
            for (index,) in indexes:
                await connection.execute(f'DROP INDEX IF EXISTS "{index}"')
            await connection.execute(
                "DELETE FROM parlant_documents WHERE collection = %s", (qualified,)
            )
        self._collections.pop(name, None)

    def _cache(
        self, collection: PostgresDocumentCollection[TDocument]
    ) -> PostgresDocumentCollection[TDocument]:
        self._collections[collection.name] = collection
        return collection

    async def _load(
        self,
        name: str,
        schema: type[TDocument],
        document_loader: Callable[[BaseDocument], Awaitable[TDocument | None]],
    ) -> PostgresDocumentCollection[TDocument]:
        """Runs every stored document through the loader (Parlant's schema migrations), as the
        JSON and MongoDB stores do on open: migrated documents are rewritten, and documents the
        loader rejects move to the failed_migrations collection.

        Reading takes no lock, so a replica starting up never stalls the others' writes; only
        when something must change is the collection locked, and then each change applies only
        to a document still as it was read (a replica starting at the same time may have
        migrated it already, or a writer changed it since)."""
        qualified = self.qualified(name)
        collection = PostgresDocumentCollection(self, name, schema)
        changes: list[tuple[int, str, TDocument | None, BaseDocument]] = []
        unpositioned = False
        async with self._pool.connection() as connection:
            await _register(connection, qualified)
            last_seq = 0
            while batch := await (
                await connection.execute(
                    f"SELECT seq, {_READ}, feed_position FROM parlant_documents "
                    "WHERE collection = %s AND seq > %s ORDER BY seq LIMIT %s",
                    (qualified, last_seq, _LOAD_BATCH),
                )
            ).fetchall():
                for seq, text, position in batch:
                    unpositioned = unpositioned or (name == self.ordered and position is None)
                    document = cast(BaseDocument, json.loads(text))
                    try:
                        loaded = await document_loader(document)
                    except Exception:
                        _logger.exception(
                            "Failed to load document %s of %s", document.get("id"), name
                        )
                        loaded = None
                    # Loaders return their argument unchanged when no migration applies.
                    if loaded is None or (loaded is not document and _encode(loaded) != text):
                        changes.append((seq, text, loaded, document))
                last_seq = batch[-1][0]
        if changes:
            await self._apply_load_changes(collection, changes)
        if unpositioned:
            await self._number_unpositioned(name)
        return self._cache(collection)

    async def _number_unpositioned(self, name: str) -> None:
        """Gives documents stored before feed positions existed positions after every one given
        out so far, in insertion order, holding the counter row so no insert interleaves."""
        qualified = self.qualified(name)
        async with self.transaction() as connection:
            await self.lock(connection, name, shared=False)
            # The counter row's lock, taken first, keeps every insert out until this commits.
            row = await (
                await connection.execute(
                    "WITH last AS ("
                    "  SELECT last FROM parlant_feed_counters WHERE collection = %(c)s FOR UPDATE"
                    "), n AS ("
                    "  SELECT seq, row_number() OVER (ORDER BY seq) AS rank FROM parlant_documents"
                    "  WHERE collection = %(c)s AND feed_position IS NULL"
                    "), numbered AS ("
                    "  UPDATE parlant_documents d SET feed_position = (SELECT last FROM last) + n.rank"
                    "  FROM n WHERE d.seq = n.seq RETURNING 1"
                    ") UPDATE parlant_feed_counters SET last = last + (SELECT count(*) FROM numbered)"
                    " WHERE collection = %(c)s RETURNING (SELECT count(*) FROM numbered)",
                    {"c": qualified},
                )
            ).fetchone()
            count = row[0] if row else 0
        _logger.info("Gave %d stored documents of %s feed positions", count, qualified)

    async def _apply_load_changes(
        self,
        collection: PostgresDocumentCollection[TDocument],
        changes: list[tuple[int, str, TDocument | None, BaseDocument]],
    ) -> None:
        async with self.transaction() as connection:
            await self.lock(connection, collection.name, shared=False)
            for seq, text, loaded, original in changes:
                unchanged = await (
                    await connection.execute(
                        f"SELECT 1 FROM parlant_documents WHERE seq = %s AND {_READ} = %s",
                        (seq, text),
                    )
                ).fetchone()
                if not unchanged:
                    continue
                if loaded is not None:
                    await collection.rewrite_row(connection, seq, loaded)
                    continue
                _logger.warning(
                    "Moving document %s of %s to %s",
                    original.get("id"),
                    collection.name,
                    FAILED_MIGRATIONS,
                )
                await _register(connection, self.qualified(FAILED_MIGRATIONS))
                await collection.insert_row(connection, FAILED_MIGRATIONS, original)
                await connection.execute("DELETE FROM parlant_documents WHERE seq = %s", (seq,))


async def _register(connection: AsyncConnection[Any], qualified: str) -> None:
    await connection.execute(
        "INSERT INTO parlant_collections (name) VALUES (%s) ON CONFLICT DO NOTHING", (qualified,)
    )


class PostgresDocumentCollection(DocumentCollection[TDocument]):
    def __init__(
        self,
        database: PostgresDocumentDatabase,
        name: str,
        schema: type[TDocument],
    ) -> None:
        self.name = name
        self._database = database
        self._schema = schema
        # A literal, not a parameter, so the planner can use this collection's partial indexes.
        self._in_collection = f"collection = {_sql_text(database.qualified(name))}"

    async def _condition(
        self, connection: AsyncConnection[Any], filters: Where
    ) -> tuple[str, list[object], FieldStats]:
        """The filter as SQL; raises Untranslatable where SQL could disagree with Python."""
        stats = await self._database.field_stats(connection, self.name)
        compiler = _FilterCompiler(stats)
        condition = compiler.compile(filters)
        return f"{self._in_collection} AND {condition}", compiler.params, stats

    async def _documents(
        self,
        connection: AsyncConnection[Any],
        where: str | None = None,
        params: Sequence[object] = (),
    ) -> list[TDocument]:
        cursor = await connection.execute(
            f"SELECT {_READ} FROM parlant_documents WHERE {where or self._in_collection} "
            "ORDER BY seq",
            params,
        )
        return [json.loads(text) async for (text,) in cursor]

    def _in_memory(self, documents: Sequence[TDocument]) -> TransientDocumentCollection[TDocument]:
        """Parlant's own implementation over a snapshot: the exact fallback."""
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
        async with self._database.snapshot() as connection:
            try:
                where, params, _ = await self._condition(connection, filters)
            except Untranslatable:
                snapshot = await self._documents(connection)
            else:
                return await self._find(
                    connection, where, params, limit, cursor, descending, direction
                )
        return await self._in_memory(snapshot).find(filters, limit, cursor, sort_direction)

    async def _find(
        self,
        connection: AsyncConnection[Any],
        where: str,
        params: list[object],
        limit: int | None,
        cursor: Cursor | None,
        descending: bool,
        direction: str,
    ) -> FindResult[TDocument]:
        if cursor:
            where += f" AND (creation_utc, id) {'<' if descending else '>'} (%s, %s)"
            params += [str(cursor.creation_utc), str(cursor.id)]
        # seq ascends in both directions: Python's sort(reverse=True) keeps ties in list order.
        select = (
            f"SELECT {_READ} FROM parlant_documents WHERE {where} "
            f"ORDER BY creation_utc {direction}, id {direction}, seq"
        )
        if limit is None:
            rows = await (await connection.execute(select, params)).fetchall()
            items = [json.loads(text) for (text,) in rows]
            return FindResult(items=items, total_count=len(items), has_more=False)
        count_row = await (
            await connection.execute(
                f"SELECT count(*) FROM parlant_documents WHERE {where}", params
            )
        ).fetchone()
        assert count_row is not None
        total_count = int(count_row[0])
        # LIMIT NULL is no limit; a negative limit then cuts as Python's slice does.
        rows = await (
            await connection.execute(f"{select} LIMIT %s", [*params, limit if limit >= 0 else None])
        ).fetchall()
        items = [json.loads(text) for (text,) in rows][:limit]
        return page(items, total_count, limit)

    @override
    async def find_one(
        self,
        filters: Where,
        sort: CollectionSort | None = None,
    ) -> TDocument | None:
        async with self._database.snapshot() as connection:
            try:
                where, params, stats = await self._condition(connection, filters)
            except Untranslatable:
                snapshot = await self._documents(connection)
            else:
                try:
                    order = "".join(
                        f"{_sort_key(field, stats)} {d.name}, " for field, d in sort or ()
                    )
                except Untranslatable:
                    # The filter is exact in SQL, but sorting its matches may raise in Python.
                    snapshot = await self._documents(connection, where, params)
                else:
                    row = await (
                        await connection.execute(
                            f"SELECT {_READ} FROM parlant_documents WHERE {where} "
                            f"ORDER BY {order}seq LIMIT 1",
                            params,
                        )
                    ).fetchone()
                    return cast(TDocument, json.loads(row[0])) if row else None
        return await self._in_memory(snapshot).find_one(filters, sort)

    @override
    async def ensure_indexes(self, indexes: Sequence[CollectionIndex]) -> None:
        qualified = self._database.qualified(self.name)
        created: list[tuple[str, str]] = []
        for index in indexes:
            try:
                keys = ", ".join(f"{field_json(f)} {d.name}" for f, d in index.fields)
            except Untranslatable as e:
                raise ValueError(f"Cannot index field {e.args[0]!r} of {self.name}") from e
            name = _index_name(qualified, index)
            # Partial: an index only grows with, and is only maintained for, its collection.
            statement = (
                f"CREATE {'UNIQUE ' if index.unique else ''}INDEX IF NOT EXISTS {name} "
                f"ON parlant_documents ({keys}) WHERE {self._in_collection}"
            )
            created.append((name, statement))

        async def create(connection: AsyncConnection[Any]) -> None:
            for name, statement in created:
                await connection.execute(statement)
                await connection.execute(
                    "INSERT INTO parlant_indexes (name, collection) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (name, qualified),
                )

        # Parlant asks at every start; each replica after the first finds them all there.
        await self._database.change_schema(
            f"the indexes of {qualified}",
            RELATIONS_EXIST,
            ([name for name, _ in created],),
            create,
        )

    async def insert_row(
        self,
        connection: AsyncConnection[Any],
        collection: str,
        document: Mapping[str, Any],
        row: _Row | None = None,
    ) -> None:
        row = row or _row(document)
        shape = await self._database.shape_id(row.signature, connection)
        qualified = self._database.qualified(collection)
        numbered = self._database.numbered
        if numbered is not None and collection == numbered.collection:
            await self._check_number_free(connection, qualified, numbered, document)
        values = (qualified, row.id, row.creation_utc, shape, row.body, row.exact)
        if collection == self._database.ordered:
            await connection.execute(_INSERT_ORDERED, (qualified, *values))
        else:
            await connection.execute(
                "INSERT INTO parlant_documents (collection, id, creation_utc, shape, body, exact) "
                "VALUES (%s, %s, %s, %s, %s::jsonb, %s)",
                values,
            )
        await self._database.announce(connection, collection, document)

    @staticmethod
    async def _check_number_free(
        connection: AsyncConnection[Any],
        qualified: str,
        numbered: NumberedWithin,
        document: Mapping[str, Any],
    ) -> None:
        """Raises OffsetTaken if the document's group has its number already. The group's lock,
        held until this transaction ends, makes the check and the insert one step: a writer of
        the same group waits, and its check (a statement of its own, so a fresh snapshot in READ
        COMMITTED) then sees this insert committed."""
        group, number = document.get(numbered.group), document.get(numbered.number)
        await connection.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (_GROUP_LOCK_CLASS, f"{qualified} {_encode(group)}"),
        )
        # The same expressions as Parlant's (session_id, offset) index on the collection.
        taken = await (
            await connection.execute(
                f"SELECT 1 FROM parlant_documents WHERE collection = {_sql_text(qualified)} "
                f"AND {field_json(numbered.group)} = %s::jsonb "
                f"AND {field_json(numbered.number)} = %s::jsonb LIMIT 1",
                (_encode(group), _encode(number)),
            )
        ).fetchone()
        if taken:
            raise OffsetTaken(f"{numbered.number} {number} of {numbered.group} {group}")

    async def rewrite_row(
        self, connection: AsyncConnection[Any], seq: int, document: Mapping[str, Any]
    ) -> None:
        row = _row(document)
        shape = await self._database.shape_id(row.signature, connection)
        await connection.execute(
            "UPDATE parlant_documents SET id = %s, creation_utc = %s, shape = %s, "
            "body = %s::jsonb, exact = %s WHERE seq = %s",
            (row.id, row.creation_utc, shape, row.body, row.exact, seq),
        )
        await self._database.announce(connection, self.name, document)

    @override
    async def insert_one(self, document: TDocument) -> InsertResult:
        ensure_is_total(document, self._schema)
        row = _row(document)
        await self._database.known_shape(row.signature)
        async with self._database.transaction() as connection:
            await self._database.lock(connection, self.name, shared=True)
            await self.insert_row(connection, self.name, document, row)
        return InsertResult(acknowledged=True)

    async def _first_match(
        self, connection: AsyncConnection[Any], filters: Where
    ) -> tuple[int, TDocument] | None:
        """The first match in insertion order, as the in-memory stores' scan finds it."""
        try:
            where, params, _ = await self._condition(connection, filters)
        except Untranslatable:
            # Stop at the first match as Parlant's scan does, so later documents never raise.
            rows = await connection.execute(
                f"SELECT seq, {_READ} FROM parlant_documents WHERE {self._in_collection} "
                "ORDER BY seq"
            )
            async for seq, text in rows:
                if matches_filters(filters, document := json.loads(text)):
                    return seq, document
            return None
        row = await (
            await connection.execute(
                f"SELECT seq, {_READ} FROM parlant_documents WHERE {where} ORDER BY seq LIMIT 1",
                params,
            )
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    @override
    async def update_one(
        self,
        filters: Where,
        params: TDocument,
        upsert: bool = False,
    ) -> UpdateResult[TDocument]:
        async with self._database.transaction() as connection:
            await self._database.lock(connection, self.name, shared=False)
            match = await self._first_match(connection, filters)
            if match is None and not upsert:
                return UpdateResult(
                    acknowledged=True, matched_count=0, modified_count=0, updated_document=None
                )
            if match is None:
                ensure_is_total(params, self._schema)
                await self.insert_row(connection, self.name, params)
                stored = params
            else:
                seq, replaced = match
                stored = cast(TDocument, {**replaced, **params})
                await self.rewrite_row(connection, seq, stored)
        matched = int(match is not None)
        return UpdateResult(
            acknowledged=True,
            matched_count=matched,
            modified_count=matched,
            updated_document=stored,
        )

    @override
    async def delete_one(self, filters: Where) -> DeleteResult[TDocument]:
        async with self._database.transaction() as connection:
            await self._database.lock(connection, self.name, shared=False)
            match = await self._first_match(connection, filters)
            if match:
                await connection.execute(
                    "DELETE FROM parlant_documents WHERE seq = %s", (match[0],)
                )
                await self._database.announce(connection, self.name, match[1])
        if not match:
            return DeleteResult(acknowledged=True, deleted_count=0, deleted_document=None)
        return DeleteResult(acknowledged=True, deleted_count=1, deleted_document=match[1])


def open_pool(url: str, max_size: int = 10) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A pool of autocommit connections (transactions are explicit); enter it with `async with`."""
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
        # A connection cut while idle (a database restart, a proxy's idle time-out) is replaced
        # as it is handed out, instead of failing the request that gets it.
        check=AsyncConnectionPool.check_connection,
    )
