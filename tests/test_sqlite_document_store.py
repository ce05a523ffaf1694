"""The SQLite and PostgreSQL document stores against Parlant's own in-memory store, and under
Parlant's stores.

The property tests run the same operations on our collection (SQLite, then PostgreSQL, each
drawn scenario on both) and Parlant's TransientDocumentCollection and require the same outcome
every time: the same results, or the same exception (matches_filters raises on missing fields and
incomparable types). PostgreSQL-only behaviour (replicas, locks, notifications) is in
test_postgres_document_store.py.
"""

import os
import tempfile

# Importing parlant.sdk or parlant.bin creates PARLANT_HOME; keep it out of the tree. setdefault:
# another test module of the same run may have chosen one already.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-home-"))

import asyncio
import json
import math
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from parlant.adapters.db.json_file import JSONFileDocumentDatabase
from parlant.adapters.db.transient import TransientDocumentCollection
from parlant.core.agents import AgentId
from parlant.core.common import IdGenerator
from parlant.core.customers import CustomerDocumentStore, CustomerId
from parlant.core.loggers import LogLevel, StdoutLogger
from parlant.core.persistence.common import Cursor, ObjectId, SortDirection, Where
from parlant.core.persistence.document_database import (
    BaseDocument,
    CollectionIndex,
    DocumentCollection,
    DocumentDatabase,
    FindResult,
    identity_loader_for,
)
from parlant.core.sessions import EventKind, EventSource, SessionDocumentStore
from parlant.core.tracer import LocalTracer

from agent.store.postgres_documents import PostgresDocumentDatabase, open_pool
from agent.store.sqlite_documents import (
    FAILED_MIGRATIONS,
    SQLiteDocumentDatabase,
    import_json_store,
)

# Opens the database at a location (a file, or a namespace in a PostgreSQL database); opening the
# same location again is a restart.
Opener = Callable[[str], AbstractAsyncContextManager[DocumentDatabase]]


def sqlite_opener(directory: str) -> Opener:
    return lambda location: SQLiteDocumentDatabase(Path(directory) / f"{location}.sqlite")


def postgres_opener(url: str) -> Opener:
    @asynccontextmanager
    async def open_database(location: str) -> AsyncIterator[DocumentDatabase]:
        async with (
            open_pool(url, max_size=2) as pool,
            PostgresDocumentDatabase(pool, namespace=location) as database,
        ):
            yield database

    return open_database


BACKENDS = ["sqlite", "postgresql"]


@asynccontextmanager
async def temporary_opener(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Opener]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield sqlite_opener(directory)
    else:
        yield postgres_opener(request.getfixturevalue("postgres_url"))


def new_location() -> str:
    return f"store-{uuid.uuid4().hex}"


class _IdOnly(TypedDict, total=False):
    id: ObjectId


# Declares only id: Parlant's insert_one requires every annotated key, and generated documents
# may lack any other. Typed as the BaseDocument that every collection stores.
Doc = cast(type[BaseDocument], _IdOnly)
load_doc = identity_loader_for(BaseDocument)


def as_dicts(documents: Iterable[BaseDocument]) -> list[dict[str, object]]:
    return [dict(d) for d in documents]


IDS = st.sampled_from([f"id{i}" for i in range(6)])  # few, so duplicate ids occur
CREATED = st.sampled_from(["", "2024-01-01", "2024-01-02", "2024-01-03"])  # few, so ties occur
TEXT = st.text(alphabet="ab'\"\\\n\x01é😀", max_size=3)
NUMBER = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.floats(-3, 3, allow_nan=False).map(lambda f: round(f, 1)),
    st.integers(-(2**63), 2**63 - 1),
)
# Values SQL would not compare as Python does: beyond 64 bits SQLite's JSON reads integers as
# REAL (2**64 + 1 would equal 2.0**64), and it cuts strings at NUL.
WIDE_NUMBER = NUMBER | st.sampled_from([2**64, 2**64 + 1, -(2**70)])
NUL_TEXT = st.text(alphabet="a\x00", max_size=3)
# Documents never hold NaN or infinities (the store rejects them: SQLite's JSON cannot parse
# them), filters may; NaN would bind as NULL.
EDGE_FILTER_VALUE = st.sampled_from([None, math.nan, math.inf, -0.0, 2.0**64, 2**64 + 1, "a\x00"])
ODD_VALUE = st.sampled_from([None, [1], ["a"], {"k": 1}, {}]) | WIDE_NUMBER | NUL_TEXT


@dataclass(frozen=True)
class Space:
    """What scenarios draw from. In `UNIFORM` every document has every field, each field with one
    kind of value (as Parlant's documents), so most filters run as SQL. `WILD` adds missing
    fields, mixed kinds and odd filter shapes, where the exact answer is Parlant's Python."""

    fields: list[str]
    filter_fields: list[str]
    field_values: list[st.SearchStrategy[Any]]
    always_present: st.SearchStrategy[bool]
    filter_scalar: st.SearchStrategy[Any]
    odd_filters: bool


# Awkward names on purpose: the empty key and a dot translate to JSON paths, a quote cannot.
UNIFORM = Space(
    fields=["a", "b", "x.y", ""],
    filter_fields=["a", "b", "x.y", "", "id", "creation_utc"],
    # Nullable text as a session's title; wide numbers and NUL text must not be taken to SQL.
    field_values=[NUMBER, TEXT, TEXT | st.none(), WIDE_NUMBER, NUL_TEXT],
    always_present=st.just(True),
    filter_scalar=st.one_of(NUMBER, TEXT, NUMBER, TEXT, NUL_TEXT, EDGE_FILTER_VALUE),
    odd_filters=False,
)
WILD = Space(
    fields=["a", "b", "x.y", 'q"'],
    filter_fields=["a", "b", "x.y", 'q"', "id", "creation_utc", "absent"],
    field_values=[NUMBER, TEXT, NUMBER | TEXT | ODD_VALUE],
    always_present=st.booleans(),
    filter_scalar=st.one_of(NUMBER, TEXT, ODD_VALUE, EDGE_FILTER_VALUE),
    odd_filters=True,
)


def where_strategy(space: Space) -> st.SearchStrategy[Any]:
    scalar = space.filter_scalar
    operator_and_value = st.sampled_from(
        ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]
    ).flatmap(
        lambda op: st.tuples(
            st.just(op), st.lists(scalar, max_size=3) if op in ("$in", "$nin") else scalar
        )
    )
    field_filter = st.lists(operator_and_value, min_size=1, max_size=2).map(dict)
    if space.odd_filters:
        field_filter |= st.sampled_from([{}, {"$regex": "a"}])
    expression = st.dictionaries(
        st.sampled_from(space.filter_fields), field_filter, min_size=1, max_size=2
    )

    def logical(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        operands = st.lists(children, max_size=3)
        combined = st.builds(
            lambda op, subs: {op: subs}, st.sampled_from(["$and", "$or"]), operands
        )
        if space.odd_filters:
            combined |= st.one_of(
                st.fixed_dictionaries({"$and": operands, "$or": operands}),
                # matches_filters ignores a field after a logical operator, and fails on a
                # logical operator after a field: quirks of the reference semantics.
                st.builds(lambda subs, e: {"$or": subs, **e}, operands, expression),
                st.builds(lambda e, subs: {**e, "$and": subs}, expression, operands),
            )
        return combined

    return st.recursive(expression | st.just({}), logical, max_leaves=4)


@st.composite
def scenario(draw: st.DrawFn, space: Space) -> tuple[list[dict[str, Any]], list[Any]]:
    """Documents to start with, then operations to run on both collections."""
    fixed: dict[str, st.SearchStrategy[Any]] = {"id": IDS}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in ["creation_utc", *space.fields]:
        values = CREATED if field == "creation_utc" else draw(st.sampled_from(space.field_values))
        (fixed if draw(space.always_present) else optional)[field] = values
    documents = st.fixed_dictionaries(fixed, optional=optional)
    # Partial documents, also changing id and creation_utc, the sort and cursor keys.
    update = st.fixed_dictionaries({}, optional={**fixed, **optional})
    where = where_strategy(space)
    direction = st.sampled_from([None, SortDirection.ASC, SortDirection.DESC])
    sort = st.lists(
        st.tuples(st.sampled_from(space.filter_fields), st.sampled_from(SortDirection)),
        min_size=1,
        max_size=2,
    )
    cursor = st.none() | st.builds(Cursor, creation_utc=CREATED, id=IDS)
    operation = st.one_of(
        st.tuples(st.just("insert_one"), documents),
        st.tuples(st.just("find"), where, st.none() | st.integers(0, 4), cursor, direction),
        st.tuples(st.just("find_one"), where, st.none() | sort),
        st.tuples(st.just("update_one"), where, update, st.booleans()),
        st.tuples(st.just("delete_one"), where),
        st.tuples(st.just("paginate"), where, st.integers(1, 3), direction),
    )
    return draw(st.lists(documents, max_size=8)), draw(st.lists(operation, min_size=1, max_size=10))


async def outcome(call: Callable[[], Awaitable[Any]]) -> tuple[Any, ...]:
    try:
        return ("ok", await call())
    except Exception as e:  # the reference raises too; the same type and message is the contract
        return ("raised", type(e), str(e))


async def paginate(
    collection: DocumentCollection[BaseDocument],
    where: Where,
    limit: int,
    direction: SortDirection | None,
) -> list[Any]:
    pages = []
    cursor = None
    # Bounded: a cursor that does not advance would otherwise page forever.
    for _ in range(32):
        page = await collection.find(where, limit=limit, cursor=cursor, sort_direction=direction)
        pages.append(page)
        if not page.has_more or page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("pagination does not end")


async def apply(
    collection: DocumentCollection[BaseDocument], operation: tuple[Any, ...]
) -> tuple[Any, ...]:
    name, *args = operation
    if name == "paginate":
        return await outcome(lambda: paginate(collection, *args))
    return await outcome(lambda: getattr(collection, name)(*args))


async def open_collection(database: DocumentDatabase) -> DocumentCollection[BaseDocument]:
    return await database.get_or_create_collection("docs", Doc, load_doc)


def agrees_with_parlants_in_memory_collection(
    request: pytest.FixtureRequest,
    initial: list[dict[str, Any]],
    operations: list[Any],
) -> None:
    """On each backend in turn: one drawn scenario serves both (drawing it is most of the CPU)."""

    async def run() -> None:
        for backend in BACKENDS:
            async with temporary_opener(backend, request) as opener:
                try:
                    await run_on(opener, new_location())
                except AssertionError as error:
                    raise AssertionError(f"on {backend}: {error}") from error

    async def run_on(open_database: Opener, location: str) -> None:
        reference = TransientDocumentCollection("docs", Doc)
        async with open_database(location) as database:
            collection = await open_collection(database)
            for document in initial:
                await reference.insert_one(cast(BaseDocument, document))
                await collection.insert_one(cast(BaseDocument, dict(document)))
            for operation in operations:
                ours, theirs = await apply(collection, operation), await apply(reference, operation)
                assert ours == theirs, operation
            expected = await reference.find({})
            assert await collection.find({}) == expected
        # Reopening rebuilds the field statistics from disk; queries must still agree.
        async with open_database(location) as database:
            collection = await open_collection(database)
            assert await collection.find({}) == expected
            for operation in operations:
                if operation[0] in ("find", "find_one", "paginate"):
                    ours, theirs = (
                        await apply(collection, operation),
                        await apply(reference, operation),
                    )
                    assert ours == theirs, operation

    asyncio.run(run())


def property_settings() -> settings:
    """As many examples as the profile says (tests/conftest.py): each is a real store round."""
    return settings(
        deadline=None,
        database=None,  # no .hypothesis/ in the tree; a failure prints its example
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def values_of_a(*values: Any) -> list[dict[str, Any]]:
    return [{"id": f"id{i}", "creation_utc": "", "a": v} for i, v in enumerate(values)]


def finds(*filters: Any) -> list[Any]:
    return [("find", where, None, None, None) for where in filters]


SORT_BY_A: list[Any] = [("find_one", {}, [("a", SortDirection.ASC)])]


@property_settings()
@given(scenario(UNIFORM))
# Each a case where a naive translation to SQL answers differently from Python.
@example((values_of_a(None, "x"), finds({"a": {"$ne": "x"}}, {"a": {"$nin": ["x"]}})))
@example((values_of_a(None, 1.0), finds({"a": {"$eq": math.nan}}, {"a": {"$ne": math.nan}})))
@example(
    (values_of_a("a\x00", "a", ""), [*finds({"a": {"$eq": "a"}}, {"a": {"$gt": "a"}}), *SORT_BY_A])
)
@example(
    (
        values_of_a(2**64 + 1, 3),
        [*finds({"a": {"$eq": 2.0**64}}, {"a": {"$lt": 2.0**64}}), *SORT_BY_A],
    )
)
@example((values_of_a([1], "[1]"), finds({"a": {"$eq": "[1]"}})))
@example(
    (
        values_of_a(True, 1, 1.0, "1"),
        [*finds({"a": {"$eq": 1}}, {"a": {"$in": [True]}}), *SORT_BY_A],
    )
)
# jsonb: numbers are numeric (1.0 and 1 equal, -0.0 is 0), booleans never equal numbers.
@example(
    (
        values_of_a(0.5, 1, -0.0, 0, 9007199254740992.0, 2**53),
        [*finds({"a": {"$eq": 0}}, {"a": {"$in": [2**53, 1.0]}}, {"a": {"$gt": -0.0}}), *SORT_BY_A],
    )
)
@example((values_of_a(1e16, 10**16), [*finds({"a": {"$eq": 10**16}}), *SORT_BY_A]))
@example((values_of_a(True, False), [*finds({"a": {"$eq": 1}}, {"a": {"$lt": True}}), *SORT_BY_A]))
def test_agrees_with_parlant_on_uniform_documents(
    request: pytest.FixtureRequest, scenario: tuple[list[dict[str, Any]], list[Any]]
) -> None:
    agrees_with_parlants_in_memory_collection(request, *scenario)


@property_settings()
@given(scenario(WILD))
def test_agrees_with_parlant_on_missing_fields_and_mixed_types(
    request: pytest.FixtureRequest, scenario: tuple[list[dict[str, Any]], list[Any]]
) -> None:
    agrees_with_parlants_in_memory_collection(request, *scenario)


EVENT = {
    "id": "e1",
    "version": "0.9.0",
    "creation_utc": "2025-01-01T00:00:00+00:00",
    "session_id": "s1",
    "source": "customer",
    "kind": "message",
    "offset": 0,
    "trace_id": "t1",
    "data": {"message": "hi"},
    "metadata": None,
    "deleted": False,
}


async def test_parlants_own_filters_run_as_sql(tmp_path: Path) -> None:
    """The fallback is exact but scans the collection; the session store's queries must not."""
    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite") as database:
        events = await database.get_or_create_collection("events", Doc, load_doc)
        await events.insert_one(cast(BaseDocument, EVENT))
        parlant_filters: list[Any] = [
            {"id": {"$eq": "e1"}},
            {"session_id": {"$eq": "s1"}, "offset": {"$gte": 1}, "deleted": {"$eq": False}},
            {
                "$or": [
                    {"session_id": {"$eq": "s1"}, "kind": {"$eq": k}} for k in ("message", "tool")
                ]
            },
            {"id": {"$eq": "e1"}, "session_id": {"$eq": "s1"}, "deleted": {"$ne": True}},
        ]
        for where in parlant_filters:
            events._condition(where)  # raises Untranslatable if it would fall back
        assert events._sort_key("offset")


async def test_documents_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    async with SQLiteDocumentDatabase(path) as database:
        collection = await open_collection(database)
        for i in range(5):
            await collection.insert_one(
                cast(BaseDocument, {"id": f"d{i}", "creation_utc": f"t{i}", "a": i})
            )
        await collection.update_one({"id": {"$eq": "d1"}}, cast(BaseDocument, {"a": 10}))
        await collection.delete_one({"id": {"$eq": "d3"}})

    async with SQLiteDocumentDatabase(path) as database:
        collection = await database.get_collection("docs", Doc, load_doc)
        assert [d["a"] for d in as_dicts(await collection.find({}))] == [0, 10, 2, 4]
        assert await collection.find_one({"a": {"$gt": 3}}, sort=[("a", SortDirection.ASC)]) == {
            "id": "d4",
            "creation_utc": "t4",
            "a": 4,
        }
        with pytest.raises(ValueError):
            await database.get_collection("never-created", Doc, load_doc)


async def test_ensure_indexes_creates_sqlite_indexes_used_by_queries(tmp_path: Path) -> None:
    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite") as database:
        events = await database.get_or_create_collection("events", Doc, load_doc)
        await events.ensure_indexes(
            [
                CollectionIndex(fields=(("session_id", SortDirection.ASC),)),
                CollectionIndex(
                    fields=(("session_id", SortDirection.ASC), ("offset", SortDirection.DESC)),
                    unique=True,
                ),
            ]
        )
        await events.ensure_indexes([CollectionIndex(fields=(("session_id", SortDirection.ASC),))])
        await events.insert_one(cast(BaseDocument, EVENT))

        def inspect(connection: sqlite3.Connection) -> tuple[list[str], str]:
            sql = [
                s
                for (s,) in connection.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '%json_extract%'"
                )
            ]
            plan = connection.execute(
                "EXPLAIN QUERY PLAN SELECT body FROM documents "
                """WHERE collection = 'events' AND json_extract(body, '$."session_id"') IS ?""",
                ("s1",),
            ).fetchall()
            return sql, str(plan)

        index_sql, plan = await database.run(inspect)
        assert len(index_sql) == 2
        assert any(s.startswith("CREATE UNIQUE INDEX") and "DESC" in s for s in index_sql)
        assert all("WHERE collection = 'events'" in s for s in index_sql)
        assert "USING INDEX" in plan and "session_id" in plan

        await database.delete_collection("events")
        assert (await database.run(inspect))[0] == []


async def test_the_file_belongs_to_one_connection(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with SQLiteDocumentDatabase(path) as database:
        await open_collection(database)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite3.connect(path, timeout=0).execute("SELECT count(*) FROM documents").fetchall()


async def test_loading_migrates_documents_and_sets_aside_failures(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with SQLiteDocumentDatabase(path) as database:
        collection = await open_collection(database)
        for version in ("1", "2", "bad"):
            await collection.insert_one(
                cast(BaseDocument, {"id": f"d{version}", "creation_utc": "t", "version": version})
            )

    async def migrate(document: BaseDocument) -> BaseDocument | None:
        if document["version"] == "bad":
            return None
        return cast(BaseDocument, {**document, "version": "2"})

    async with SQLiteDocumentDatabase(path) as database:
        collection = await database.get_collection("docs", Doc, migrate)
        assert [d["version"] for d in await collection.find({})] == ["2", "2"]
        failed = await database.get_collection(
            FAILED_MIGRATIONS, BaseDocument, identity_loader_for(BaseDocument)
        )
        assert [d["id"] for d in await failed.find({})] == ["dbad"]

    async with SQLiteDocumentDatabase(path) as database:
        collection = await database.get_collection("docs", Doc, load_doc)
        assert [d["version"] for d in await collection.find({})] == ["2", "2"]


async def test_imports_a_parlant_json_store_once(tmp_path: Path) -> None:
    json_path = tmp_path / "sessions.json"
    async with (
        JSONFileDocumentDatabase(
            StdoutLogger(LocalTracer(), LogLevel.WARNING), json_path
        ) as json_db,
        SessionDocumentStore(database=json_db) as json_store,
    ):
        session = await json_store.create_session(
            customer_id=CustomerId("c1"), agent_id=AgentId("a1")
        )
        for i in range(3):
            await json_store.create_event(
                session.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"message": f"m{i}"}
            )
    json_before = json_path.read_text()

    path = tmp_path / "sessions.sqlite"
    async with SQLiteDocumentDatabase(path) as database:
        assert await import_json_store(json_path, database)
        assert not await import_json_store(json_path, database)
        async with SessionDocumentStore(database=database) as store:
            events = await store.list_events(session.id)
            assert [e.data for e in events] == [{"message": f"m{i}"} for i in range(3)]
            assert (await store.read_session(session.id)).agent_id == "a1"

    async with SQLiteDocumentDatabase(path) as database:
        assert not await import_json_store(json_path, database)
    assert json_path.read_text() == json_before


async def test_import_of_an_emptied_json_store_imports_nothing_once(tmp_path: Path) -> None:
    # What a SIGKILL during a `local` store write leaves behind; Parlant reads it as empty.
    json_path = tmp_path / "sessions.json"
    json_path.write_text("")
    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite") as database:
        assert await import_json_store(json_path, database)
        json_path.write_text(json.dumps({"sessions": [{"id": "s1", "creation_utc": "t"}]}))
        assert not await import_json_store(json_path, database)
        assert await (await open_collection(database)).find({}) == FindResult([], 0, False)


async def test_import_refuses_a_database_that_already_has_documents(tmp_path: Path) -> None:
    json_path = tmp_path / "customers.json"
    json_path.write_text(json.dumps({"customers": [{"id": "c1", "creation_utc": "t"}]}))
    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite") as database:
        await (await open_collection(database)).insert_one({"id": ObjectId("d1")})
    async with SQLiteDocumentDatabase(tmp_path / "s.sqlite") as database:
        with pytest.raises(RuntimeError, match="already holds documents"):
            await import_json_store(json_path, database)


async def test_parlant_session_and_customer_stores_run_on_it(tmp_path: Path) -> None:
    sessions_path, customers_path = tmp_path / "sessions.sqlite", tmp_path / "customers.sqlite"
    async with (
        SQLiteDocumentDatabase(sessions_path) as sessions_db,
        SessionDocumentStore(database=sessions_db, allow_migration=True) as sessions,
        SQLiteDocumentDatabase(customers_path) as customers_db,
        CustomerDocumentStore(
            IdGenerator(), database=customers_db, allow_migration=True
        ) as customers,
    ):
        customer = await customers.create_customer(name="Ada")
        session = await sessions.create_session(customer_id=customer.id, agent_id=AgentId("a1"))
        for i in range(4):
            await sessions.create_event(
                session.id, EventSource.CUSTOMER, EventKind.MESSAGE, "t", {"message": f"m{i}"}
            )
        status = await sessions.create_event(
            session.id, EventSource.AI_AGENT, EventKind.STATUS, "t", {"status": "typing"}
        )
        await sessions.delete_event(status.id)
        await sessions.upsert_labels(session.id, {"handoff"})

    async with (
        SQLiteDocumentDatabase(sessions_path) as sessions_db,
        SessionDocumentStore(database=sessions_db) as sessions,
        SQLiteDocumentDatabase(customers_path) as customers_db,
        CustomerDocumentStore(IdGenerator(), database=customers_db) as customers,
    ):
        events = await sessions.list_events(session.id, kinds=[EventKind.MESSAGE])
        assert [(e.offset, e.data) for e in events] == [(i, {"message": f"m{i}"}) for i in range(4)]
        assert len(await sessions.list_events(session.id, exclude_deleted=False)) == 5
        listing = await sessions.list_sessions(customer_id=customer.id, labels={"handoff"})
        assert [s.id for s in listing.items] == [session.id]
        assert (await customers.read_customer(customer.id)).name == "Ada"
