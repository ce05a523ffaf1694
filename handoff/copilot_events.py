"""What the copilot (drafts and the checks on `ai:` replies) records in a session, for the
insights page's figures (dashboard/copilot.py). Parlant is the source of truth: every record is
an event of the session it happened in, never shown to the customer (a customer sees messages
and statuses only, agent/customers/view.py) nor to the AI, nor mirrored into the thread.

- `draft_offered` (custom): the bridge posted a draft into the handoff's thread
  (slack_bridge/drafts.py); the draft's text is not kept.
- A draft's outcome: the internal note the bridge writes when an operator sends, edits or
  dismisses it, its metadata `{"draft": {"outcome": "sent" | "edited" | "dismissed"}}`.
- `ai_reply_held` (custom): the agent refused an `ai:` reply (agent/reply_route.py), with the
  rule, the operator and the reply's origin key, never the refused text. Whether it was then
  sent anyway or edited is read from the operator's next `ai` message of the same origin
  (`sent_despite_rule` in its metadata when sent anyway).

A session with any of them carries the `copilot` label, so the dashboard reads the events of
those sessions only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DRAFT_OFFERED = "draft_offered"
AI_REPLY_HELD = "ai_reply_held"
COPILOT_LABEL = "copilot"
DRAFT_OUTCOMES = ("sent", "edited", "dismissed")


def draft_offered_data(slack_ts: str) -> dict[str, Any]:
    return {"type": DRAFT_OFFERED, "slack_ts": slack_ts}


def draft_outcome_metadata(outcome: str, slack_ts: str) -> dict[str, Any]:
    return {"draft": {"outcome": outcome, "slack_ts": slack_ts}}


def read_draft_outcome(metadata: Mapping[str, Any] | None) -> str | None:
    """The outcome a draft's note records; None for any other event."""
    draft = (metadata or {}).get("draft")
    outcome = draft.get("outcome") if isinstance(draft, Mapping) else None
    return outcome if outcome in DRAFT_OUTCOMES else None


@dataclass(frozen=True)
class HeldReply:
    rule: str
    operator_id: str
    operator_name: str
    key: str | None  # the reply's origin (agent/reply_keys.py); None from the dashboard

    def as_event_data(self) -> dict[str, Any]:
        return {
            "type": AI_REPLY_HELD,
            "rule": self.rule,
            "operator": {"id": self.operator_id, "name": self.operator_name},
            "key": self.key,
        }


def read_held(data: Any) -> HeldReply | None:
    """The hold an event's data records; None for any other event's data."""
    if not isinstance(data, Mapping) or data.get("type") != AI_REPLY_HELD:
        return None
    operator = data.get("operator") if isinstance(data.get("operator"), Mapping) else {}
    assert isinstance(operator, Mapping)
    key = data.get("key")
    return HeldReply(
        rule=str(data.get("rule") or "unknown"),
        operator_id=str(operator.get("id") or ""),
        operator_name=str(operator.get("name") or operator.get("id") or "–"),
        key=key if isinstance(key, str) and key else None,
    )
