"""The bridge's store as its settings choose: PostgreSQL for BRIDGE_STATE_URL, else the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from config.postgres_check import CONNECT_TIMEOUT_S, describe_target
from slack_bridge.settings import BridgeSettings
from slack_bridge.state import BridgeStore, SQLiteBridgeStore
from slack_bridge.state_postgres import PostgresBridgeStore


@asynccontextmanager
async def open_bridge_store(settings: BridgeSettings) -> AsyncIterator[BridgeStore]:
    if settings.state_url:
        async with PostgresBridgeStore(settings.state_url) as shared:
            yield shared
        return
    local = SQLiteBridgeStore(settings.state_path)
    try:
        yield local
    finally:
        local.close()


def state_url_problem(url: str) -> str | None:
    """None when the database answers; else one line naming host, port, database and user
    (never the password), instead of a pool time-out deep in the start."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        lines = str(error).strip().splitlines()
        reason = lines[0].strip() if lines else type(error).__name__
        return (
            f"BRIDGE_STATE_URL: cannot use PostgreSQL at {describe_target(url)}: {reason}; "
            "check that the server runs and the URL's host, port, database, user and password"
        )
    return None
