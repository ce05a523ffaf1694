"""AI turns outlive the replica that started them: a turn a killed agent was composing is run
again by a survivor.

Parlant runs a session's AI turn as a task in the process that received the customer's
message; no other process knows of it. An agent replica killed mid-turn left the customer's
message stored and unanswered until they wrote again (issue 25, found again by the chaos run).

With replicas on PostgreSQL each owed or running turn is a row of `agent_turns` (session,
replica, heartbeat), a lease:

- before a customer's message is stored, its replica writes the session's row (so a death
  between the write and the turn's start is covered too);
- every `RENEW_S` each replica renews the rows of the sessions whose turn task runs in it, and
  deletes its rows whose turn is over (a row younger than `SETTLE_S` is kept: its message may
  be being stored, its turn not yet started);
- on the same beat each replica takes the rows whose heartbeat is older than `LEASE_S` (their
  replica is dead: a live one renews) and, for each, starts the AI's turn again if the session
  is still the AI's (`auto`) and its last message is the customer's; otherwise it deletes the
  row. The turn it starts is its own from then on, by the same rules.

A turn is thus answered within about `LEASE_S` + `RENEW_S` of its replica's death, by
whichever replica takes the row first (one statement, so one replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

from lagom import Container
from parlant.core.background_tasks import BackgroundTaskService
from parlant.core.common import ItemNotFoundError
from parlant.core.sessions import EventKind, EventSource, SessionId, SessionStore
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

LEASE_S = 5.0
RENEW_S = 1.0
SETTLE_S = 2.0
# Parlant's tag for a session's turn task (SessionModule.dispatch_processing_task).
TASK_TAG = "process-session({})"

SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_turns (
    session_id text PRIMARY KEY,
    replica text NOT NULL,
    heartbeat_at timestamptz NOT NULL DEFAULT now()
)
"""


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class TurnLeases:
    """The `agent_turns` rows of one agent replica (see the module docstring)."""

    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection[Any]], replica: str | None = None
    ) -> None:
        self._pool = pool
        self.replica = replica or replica_name()
        self._container: Container | None = None

    async def create_schema(self, lock: Any) -> None:
        """`lock(connection)` takes the schema's advisory lock (PostgresDocumentDatabase)."""
        async with self._pool.connection() as connection, connection.transaction():
            await lock(connection)
            await connection.execute(SCHEMA)

    def bind(self, container: Container) -> None:
        self._container = container

    async def owe(self, session_id: str) -> None:
        """A customer's message is about to be stored: its turn is this replica's."""
        async with self._pool.connection() as connection:
            await connection.execute(
                "INSERT INTO agent_turns (session_id, replica) VALUES (%s, %s)"
                " ON CONFLICT (session_id) DO UPDATE"
                " SET replica = excluded.replica, heartbeat_at = now()",
                (session_id, self.replica),
            )

    def running(self) -> list[str]:
        """Sessions whose turn task runs in this process now."""
        if self._container is None:
            return []
        tasks = self._container[BackgroundTaskService]._tasks  # Parlant keeps them by tag only
        prefix, suffix = TASK_TAG.split("{}")
        return [
            tag[len(prefix) : -len(suffix)]
            for tag, task in list(tasks.items())
            if tag.startswith(prefix) and tag.endswith(suffix) and not task.done()
        ]

    async def beat(self) -> list[str]:
        """One round: renew, delete what is over, take the dead replicas' rows; returns the
        sessions taken."""
        running = self.running()
        async with self._pool.connection() as connection:
            if running:
                await connection.execute(
                    "INSERT INTO agent_turns (session_id, replica)"
                    " SELECT unnest(%s::text[]), %s ON CONFLICT (session_id) DO UPDATE"
                    " SET replica = excluded.replica, heartbeat_at = now()",
                    (running, self.replica),
                )
            await connection.execute(
                "DELETE FROM agent_turns WHERE replica = %s AND NOT session_id = ANY(%s)"
                " AND heartbeat_at < now() - make_interval(secs => %s)",
                (self.replica, running, SETTLE_S),
            )
            taken = await (
                await connection.execute(
                    "UPDATE agent_turns SET replica = %s, heartbeat_at = now()"
                    " WHERE heartbeat_at < now() - make_interval(secs => %s)"
                    " RETURNING session_id",
                    (self.replica, LEASE_S),
                )
            ).fetchall()
        return [str(row[0]) for row in taken]

    async def resume(self, session_id: str) -> bool:
        """Start the AI's turn again if the session still owes the customer an answer."""
        # Imported here, where a turn is resumed: importing Parlant's application (its tool
        # services, MCP client and all) cost every process that opens the session stores
        # 1.6 s of CPU, the test workers among them; the agent has it loaded already.
        from parlant.core.application import Application

        assert self._container is not None
        sessions = self._container[Application].sessions
        store = self._container[SessionStore]  # type: ignore[type-abstract]
        try:
            session = await sessions.read(SessionId(session_id))
        except ItemNotFoundError:
            return False
        if session.mode != "auto":
            return False
        messages = await store.list_events(SessionId(session_id), kinds=[EventKind.MESSAGE])
        if not messages or messages[-1].source != EventSource.CUSTOMER:
            return False
        await sessions.dispatch_processing_task(session)
        log.info("AI turn resumed after its replica died session=%s", session_id)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RENEW_S)
            try:
                for session_id in await self.beat():
                    if not await self.resume(session_id):
                        await self._forget(session_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be restarting: the next beat tries again.
                log.warning("turn leases: a round failed", exc_info=True)

    async def _forget(self, session_id: str) -> None:
        async with self._pool.connection() as connection:
            await connection.execute(
                "DELETE FROM agent_turns WHERE session_id = %s AND replica = %s",
                (session_id, self.replica),
            )


@contextlib.asynccontextmanager
async def running(leases: TurnLeases | None, container: Container) -> AsyncIterator[None]:
    """The replica's beat, for as long as the server runs."""
    if leases is None:
        yield
        return
    leases.bind(container)
    task = asyncio.create_task(leases.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
