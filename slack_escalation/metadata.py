"""What the bridge's posts are: the Slack message metadata each post carries, by event type.

Every post made exactly once (root messages, mirrored events, SLA notices) names what it is in
its metadata, so a post whose answer was lost can be found again (slack_escalation.posted).
"""

from __future__ import annotations

from typing import Any


def escalation_metadata(session_id: str) -> dict[str, Any]:
    return {"event_type": "insurance_escalation", "event_payload": {"session_id": session_id}}


def sla_notice_metadata(session_id: str, kind: str) -> dict[str, Any]:
    return {
        "event_type": "insurance_sla_notice",
        "event_payload": {"session_id": session_id, "kind": kind},
    }


def mirror_metadata(session_id: str, event_id: str, part: int) -> dict[str, Any]:
    return {
        "event_type": "insurance_mirrored_event",
        "event_payload": {"session_id": session_id, "event_id": event_id, "part": part},
    }
