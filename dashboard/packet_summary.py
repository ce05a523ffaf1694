"""What the agent knew at handoff (the handoff packet), as plain lines for the session
page. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff.packet import read_packet


def sentence_inside(text: str) -> str:
    """A sentence continued after "When": "The customer asks…" reads "the customer asks…";
    an acronym or a name in capitals ("SLA", "VIP") keeps its case."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


@dataclass(frozen=True)
class PacketSummary:
    """What the agent knew at handoff, as plain lines for `st.text` (never Markdown)."""

    journey: str | None
    guidelines: tuple[str, ...]
    tool_calls: tuple[str, ...]


def packet_summary(record: Mapping[str, Any]) -> PacketSummary | None:
    """The handoff packet of a record (handoff.packet), or None for a record without one."""
    packet = read_packet(record)
    if packet is None:
        return None
    journey = packet["journey"]
    return PacketSummary(
        journey=f"{journey['title']} – step: {journey['step']}" if journey else None,
        guidelines=tuple(
            f"When {sentence_inside(g['condition'])}" + (f" → {g['action']}" if g["action"] else "")
            for g in packet["guidelines"]
        ),
        tool_calls=tuple(
            f"{c['tool']}({', '.join(f'{k}={v}' for k, v in c['arguments'].items())}): "
            f"{c['result_summary'] or 'no result'}"
            for c in packet["tool_calls"]
        ),
    )
