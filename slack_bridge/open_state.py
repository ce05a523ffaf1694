"""The bridge's store as its settings choose: PostgreSQL for BRIDGE_STATE_URL, else the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_bridge.settings import BridgeSettings
from slack_bridge.store import BridgeStore
from slack_bridge.store.postgres import PostgresBridgeStore
from slack_bridge.store.sqlite import SQLiteBridgeStore


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
