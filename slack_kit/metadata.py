"""What the bridge's posts are: the Slack message metadata each post carries, and its one reader.

Every post made exactly once (root messages, mirrored events, SLA notices) names what it is in
its metadata, so a post whose answer was lost can be found again (slack_kit.posted), and
a reply in a thread the bridge has not linked yet can be traced to its session. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# The event types, one per kind of post. Slack keeps them with the message: never rename one.
ROOT_MESSAGE: Final = "insurance_escalation"
SLA_NOTICE: Final = "insurance_sla_notice"
MIRRORED_EVENT: Final = "insurance_mirrored_event"

Metadata = dict[str, Any]


def escalation_metadata(session_id: str) -> Metadata:
    return {"event_type": ROOT_MESSAGE, "event_payload": {"session_id": session_id}}


def sla_notice_metadata(session_id: str, kind: str) -> Metadata:
    return {"event_type": SLA_NOTICE, "event_payload": {"session_id": session_id, "kind": kind}}


def mirror_metadata(session_id: str, event_id: str, part: int) -> Metadata:
    """A part of a mirrored Parlant event (or of the handback line, keyed by its event)."""
    return {
        "event_type": MIRRORED_EVENT,
        "event_payload": {"session_id": session_id, "event_id": event_id, "part": part},
    }


def mirror_batch_metadata(session_id: str, event_ids: list[str]) -> Metadata:
    """Several mirrored events coalesced in one post (each one part), oldest first."""
    return {
        "event_type": MIRRORED_EVENT,
        "event_payload": {"session_id": session_id, "event_ids": list(event_ids), "part": 0},
    }


def payload_of(message: Mapping[str, Any], event_type: str) -> dict[str, Any] | None:
    """The message's metadata payload if its metadata is of `event_type`, else None."""
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != event_type:
        return None
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, dict) else {}


def root_session(message: Mapping[str, Any]) -> str | None:
    """The session a root message belongs to; None for any other message."""
    session_id = (payload_of(message, ROOT_MESSAGE) or {}).get("session_id")
    return str(session_id) if session_id else None


def is_root_of(message: Mapping[str, Any], session_id: str) -> bool:
    return root_session(message) == session_id


def mirrored_parts(message: Mapping[str, Any]) -> set[tuple[str, int]]:
    """The (event id, part) pairs a mirrored post carries: one, or several coalesced."""
    payload = payload_of(message, MIRRORED_EVENT)
    if payload is None:
        return set()
    part = payload.get("part")
    if not isinstance(part, int):
        return set()
    ids = payload.get("event_ids")
    if isinstance(ids, list):
        return {(str(event_id), part) for event_id in ids}
    event_id = payload.get("event_id")
    return {(str(event_id), part)} if event_id else set()


def is_mirrored_part(message: Mapping[str, Any], event_id: str, part: int) -> bool:
    return (event_id, part) in mirrored_parts(message)


def is_sla_notice(message: Mapping[str, Any], session_id: str, kind: str) -> bool:
    payload = payload_of(message, SLA_NOTICE)
    return (
        payload is not None
        and payload.get("session_id") == session_id
        and payload.get("kind") == kind
    )
