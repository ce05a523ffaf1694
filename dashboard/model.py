"""Plain, picklable shapes of what the dashboard reads from Parlant (cacheable, testable without I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handoff.record import HandoffRecord


@dataclass(frozen=True)
class Escalation:
    """A session labelled `handoff`, with its handoff record (empty if the metadata is missing)."""

    session_id: str
    customer_id: str
    mode: str
    created: datetime
    record: HandoffRecord


@dataclass(frozen=True)
class RawEvent:
    offset: int
    source: str
    kind: str
    created: datetime
    data: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)
