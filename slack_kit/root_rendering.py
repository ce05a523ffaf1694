"""What a root message shows, as a fingerprint: whoever draws a root (the handoff tool, a
bridge) records it, so the bridge rewrites a root only when what it would show differs."""

from __future__ import annotations

import hashlib
import json

from handoff.record import HandoffRecord
from handoff.sla import SlaView, display_key


def record_fingerprint(record: HandoffRecord) -> str:
    shown = {k: v for k, v in record.items() if k != "slack"}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def rendering_fingerprint(record: HandoffRecord, sla: SlaView | None) -> str:
    """What a root message shows: the record, then the SLA line's coarse display key."""
    return f"{record_fingerprint(record)}|{display_key(sla) if sla else ''}"


def only_sla_changed(stored: str | None, current: str) -> bool:
    return stored is not None and stored.split("|")[0] == current.split("|")[0]
