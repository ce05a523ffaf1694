"""What a customer may see of a session and its events: pure functions over Parlant's JSON.

Operators keep the full record (metadata naming Slack users, channels and thread timestamps;
tool calls; guideline and journey ids in status events; engine errors). A customer gets the
conversation: who spoke (a display name and a role), what was said, and whether the agent is
working. The shapes keep every field Parlant's clients require (the official widget's client
validates them), with internal values emptied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CUSTOMER_KINDS: frozenset[str] = frozenset({"message", "status"})

# Statuses a chat shows (typing, waiting); anything else is reported as plain "ready".
CUSTOMER_STATUSES: frozenset[str] = frozenset(
    {"acknowledged", "cancelled", "processing", "typing", "ready", "error"}
)

ROLE_BY_SOURCE: Mapping[str, str] = {
    "customer": "customer",
    "customer_ui": "customer",
    "ai_agent": "assistant",
    "human_agent_on_behalf_of_ai_agent": "assistant",
    "human_agent": "support team",
    "system": "system",
}


def customer_event(event: Mapping[str, Any], agent_name: str) -> dict[str, Any] | None:
    """The customer's view of one event, or None when the customer may not see it at all."""
    kind = event.get("kind")
    if kind not in CUSTOMER_KINDS:
        return None
    source = str(event.get("source", ""))
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    if kind == "message":
        shown: dict[str, Any] = {
            "message": str(data.get("message") or ""),
            "participant": {
                "display_name": _display_name(source, data, agent_name),
                "role": ROLE_BY_SOURCE.get(source, "assistant"),
            },
        }
    else:
        status = data.get("status")
        shown = {"status": status if status in CUSTOMER_STATUSES else "ready", "data": {}}
    return {
        "id": event.get("id"),
        "source": source,
        "kind": kind,
        "offset": event.get("offset"),
        "creation_utc": event.get("creation_utc"),
        "trace_id": "",
        "correlation_id": str(event.get("correlation_id") or ""),
        "data": shown,
        "metadata": {},
        "deleted": bool(event.get("deleted", False)),
    }


def customer_events(events: Any, agent_name: str) -> list[dict[str, Any]]:
    if not isinstance(events, list):
        return []
    shown = (customer_event(e, agent_name) for e in events if isinstance(e, Mapping))
    return [e for e in shown if e is not None]


def customer_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """The customer's view of their session: no labels or metadata (the handoff record)."""
    offsets = session.get("consumption_offsets")
    client_offset = offsets.get("client", 0) if isinstance(offsets, Mapping) else 0
    return {
        "id": session.get("id"),
        "agent_id": session.get("agent_id"),
        "customer_id": session.get("customer_id"),
        "creation_utc": session.get("creation_utc"),
        "title": session.get("title"),
        "mode": session.get("mode", "auto"),
        "consumption_offsets": {"client": client_offset},
        "metadata": {},
        "labels": [],
    }


def customer_agent(agent: Mapping[str, Any]) -> dict[str, Any]:
    """Parlant's AgentDTO with its tags emptied (every required field kept: parlant-client's
    `agents.retrieve` refused the answer without `message_output_mode`)."""
    return {
        "id": agent.get("id"),
        "name": agent.get("name"),
        "description": agent.get("description"),
        "creation_utc": agent.get("creation_utc"),
        "max_engine_iterations": agent.get("max_engine_iterations", 1),
        "composition_mode": agent.get("composition_mode", "fluid"),
        "message_output_mode": agent.get("message_output_mode", "block"),
        "tags": [],
    }


def _display_name(source: str, data: Mapping[str, Any], agent_name: str) -> str:
    if source in ("ai_agent", "human_agent_on_behalf_of_ai_agent"):
        # An operator writing "as the AI" speaks as the assistant; who really wrote it stays
        # in the operators' record.
        return agent_name
    participant = data.get("participant")
    name = participant.get("display_name") if isinstance(participant, Mapping) else None
    if isinstance(name, str) and name.strip():
        return name.strip()
    return "Support team" if source == "human_agent" else "You"
