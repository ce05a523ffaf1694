"""The discovery pass's list of handed-off sessions, read as plain JSON.

The generated Parlant client converts every listed session through its annotation-aware
serializer; with a thousand escalations listed every two seconds that conversion alone kept a
third of a core busy (measured with py-spy). Discovery needs four fields, so it reads them
from the JSON directly, and only when the listing's bytes changed since the last pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from handoff.record import HANDOFF_LABEL


@dataclass(frozen=True)
class ListedSession:
    id: str
    customer_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def listed_sessions(payload: Any) -> list[ListedSession]:
    """Parlant answers a list without `limit` as a JSON array, with it as {"items": [...]}."""
    items = payload.get("items", []) if isinstance(payload, dict) else payload
    return [
        ListedSession(
            id=str(item["id"]),
            customer_id=str(item.get("customer_id") or ""),
            metadata=item.get("metadata") or {},
            labels=tuple(item.get("labels") or ()),
        )
        for item in items or []
        if isinstance(item, dict) and item.get("id")
    ]


async def fetch_handed_off(http: httpx.AsyncClient, parlant_url: str) -> bytes:
    """The raw listing; `listed_sessions(json.loads(raw))` reads it."""
    # No `limit`: Parlant 3.3 filters labels after paging, so a page can come back short.
    response = await http.get(
        f"{parlant_url.rstrip('/')}/sessions", params={"labels": HANDOFF_LABEL}
    )
    response.raise_for_status()
    return response.content
