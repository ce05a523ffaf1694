"""One shape for a session's handoff state, kept in Parlant session metadata under `handoff`.

Parlant is the source of truth: the dashboard's queue and metrics read only this record, and
every writer goes through these pure functions so the shape cannot drift between processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal, TypedDict, cast

from handoff.packet import HandoffPacket

HANDOFF_LABEL = "handoff"
METADATA_KEY = "handoff"
# The link of a root the bridge posted after the handoff tool's own post failed, under a key of
# its own (`bridge_slack_link`): Parlant sets each metadata key on its own, so this write never
# replaces the record, as a read-and-rewrite of the record did with a claim made between the
# two (the claim was lost). It holds the handoff it is for, its `requested_at`; read_record
# shows it as the record's `slack` for that handoff only.
SLACK_LINK_KEY = "handoff_slack"

HandoffStatus = Literal["waiting", "claimed", "returned", "resolved"]
SlackPostState = Literal["disabled", "pending", "posted"]

# A handoff still needs a person while in these states; a new handoff request keeps its clock.
ACTIVE_STATUSES: frozenset[str] = frozenset({"waiting", "claimed"})


# (str, Enum) as written: StrEnum would change what str() of a member gives.
class ReasonCategory(str, Enum):  # noqa: UP042
    """Why a handoff happened, in a few fixed kinds (the free-text reason says the rest), so
    handoffs can be counted by kind: every free-text reason is different."""

    CUSTOMER_ASKED = "customer_asked"
    CANNOT_HELP = "cannot_help"
    COMPLAINT = "complaint"
    LEGAL_QUESTION = "legal_question"
    LEGAL_THREAT = "legal_threat"
    AI_FAILURE = "ai_failure"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def read_category(record: Mapping[str, Any] | None) -> ReasonCategory:
    """The record's category; OTHER for records written before categories or a bad value."""
    try:
        return ReasonCategory(str((record or {}).get("reason_category")))
    except ValueError:
        return ReasonCategory.OTHER


class SlackLink(TypedDict, total=False):
    state: SlackPostState
    channel: str
    ts: str
    permalink: str
    # Pending after a post whose answer was lost: it may be in the channel already, so whoever
    # posts it next looks for it first (a post that failed cleanly needs no look-up).
    maybe_posted: bool
    # What the posted root shows (slack_kit/root_rendering.py), so the bridge that links the
    # thread rewrites it only when the record or the SLA line moved on since: without it every
    # root the handoff tool posts is drawn a second time, and chat.update is Tier 3.
    rendered: str


class HandoffRecord(TypedDict, total=False):
    status: HandoffStatus
    reason: str
    reason_category: str  # a ReasonCategory value
    requested_at: str
    # The offset of the first session event the Slack thread mirrors: the handoff turn had read
    # every event before it, and the root message shows those. Recorded by the handoff itself, so
    # it holds however the turn ends: a customer who writes while the handoff tool runs cancels
    # the turn before its tool event is stored, and the tool event was the only other way to
    # tell. Absent from records written before it (handoff/packet.handoff_turn_start then).
    thread_from: int
    claimed_by: dict[str, str]
    claimed_at: str
    first_claimed_at: str
    first_human_reply_at: str
    first_human_reply_by: dict[str, str]
    returned_at: str
    returned_by: dict[str, str]
    resolved_at: str
    resolved_by: dict[str, str]
    slack: SlackLink
    packet: HandoffPacket
    # How many times this session has been handed off, this one included; absent: once. A new
    # handoff after a return or resolve replaces the record, and insights counted sessions as
    # handoffs ("Handoffs: 3" for 4).
    handoffs: int
    # Satisfaction (handoff/satisfaction.py): when the question was asked after the resolve,
    # and the answer ({"rating": 1-5, "comment": str, "at": ISO time}) or {"skipped": True}.
    satisfaction_asked_at: str
    satisfaction: dict[str, Any]
    # Why the AI could not finish, tagged on resolve (handoff/learning.py): {"why", "answer",
    # "by", "at"}.
    learning: dict[str, Any]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_record(session_metadata: Mapping[str, Any] | None) -> HandoffRecord | None:
    """The handoff record in a session's metadata, or None if it was never handed off; its
    `slack` is the bridge's link (SLACK_LINK_KEY) when the bridge posted this handoff's root."""
    value = (session_metadata or {}).get(METADATA_KEY)
    if not isinstance(value, dict):
        return None
    record = cast(HandoffRecord, dict(value))
    posted = (session_metadata or {}).get(SLACK_LINK_KEY)
    if (
        isinstance(posted, dict)
        and isinstance(posted.get("link"), dict)
        and posted.get("requested_at") == record.get("requested_at")
    ):
        record["slack"] = cast(SlackLink, dict(posted["link"]))
    return record


def bridge_slack_link(record: HandoffRecord, link: SlackLink) -> dict[str, Any]:
    """The value of SLACK_LINK_KEY for the root of `record`'s handoff at `link`."""
    return {"requested_at": record.get("requested_at"), "link": dict(link)}


def request_handoff(
    existing: HandoffRecord | None,
    reason: str,
    now: str,
    slack_state: SlackPostState,
    packet: HandoffPacket | None = None,
    category: ReasonCategory = ReasonCategory.OTHER,
    thread_from: int | None = None,
) -> HandoffRecord:
    """The record after the agent asks for a human; `thread_from` is where its Slack thread
    starts (HandoffRecord.thread_from).

    A repeated request while a handoff is still open keeps the original time, Slack thread and
    packet, so the SLA clock never resets and one handoff never gets two threads.
    """
    if existing and existing.get("status") in ACTIVE_STATUSES:
        return existing
    record = HandoffRecord(
        status="waiting",
        reason=reason.strip() or "customer asked for a human",
        reason_category=ReasonCategory(category).value,
        requested_at=now,
        slack=SlackLink(state=slack_state),
    )
    if packet is not None:
        record["packet"] = packet
    if thread_from is not None:
        record["thread_from"] = thread_from
    if existing:
        record["handoffs"] = handoff_count(existing) + 1
    return record


def handoff_count(record: HandoffRecord | None) -> int:
    """How many times the session has been handed off (records before the count: once)."""
    if not record:
        return 0
    count = record.get("handoffs")
    return count if isinstance(count, int) and count > 0 else 1


class HandoffNotActive(Exception):
    """The session's handoff was returned to the AI or resolved; humans must take it over first."""

    def __init__(self, session_id: str, status: str | None) -> None:
        super().__init__(f"session {session_id} is not with a human (status: {status or 'none'})")
        self.session_id = session_id
        self.status = status


def _person(operator_id: str, operator_name: str) -> dict[str, str]:
    return {"id": operator_id, "name": operator_name}


def claimed(record: HandoffRecord, operator_id: str, operator_name: str, now: str) -> HandoffRecord:
    """Claiming (or re-assigning) sets the assignee and when; the first claim time, which the
    time-to-claim SLA is measured by, never changes."""
    return HandoffRecord(
        **{
            **record,
            "status": "claimed",
            "claimed_by": _person(operator_id, operator_name),
            "claimed_at": now,
            "first_claimed_at": record.get("first_claimed_at", now),
        }
    )


def after_human_reply(
    record: HandoffRecord, operator_id: str, operator_name: str, now: str
) -> HandoffRecord:
    """The first operator to reply claims a waiting handoff; the first reply time is kept."""
    updated = (
        claimed(record, operator_id, operator_name, now)
        if record.get("status") == "waiting"
        else record
    )
    if "first_human_reply_at" in updated:
        return updated
    return HandoffRecord(
        **{
            **updated,
            "first_human_reply_at": now,
            "first_human_reply_by": _person(operator_id, operator_name),
        }
    )


def returned(
    record: HandoffRecord, operator_id: str, operator_name: str, now: str
) -> HandoffRecord:
    return HandoffRecord(
        **{
            **record,
            "status": "returned",
            "returned_at": now,
            "returned_by": _person(operator_id, operator_name),
        }
    )


def resolved(
    record: HandoffRecord,
    operator_id: str,
    operator_name: str,
    now: str,
    learning: dict[str, Any] | None = None,
) -> HandoffRecord:
    """Resolved by the operator; `learning` is their tag (handoff/learning.py). A resolve
    without one drops an earlier resolve's tag: it was about another handoff."""
    kept = HandoffRecord(**record)
    kept.pop("learning", None)
    if learning:
        kept["learning"] = learning
    return HandoffRecord(
        **{
            **kept,
            "status": "resolved",
            "resolved_at": now,
            "resolved_by": _person(operator_id, operator_name),
            # The customer is asked next (handoff/actions.py `resolve`): an answer counts from
            # here, a rating from an earlier resolve of this session is not carried over.
            "satisfaction_asked_at": now,
            "satisfaction": {},
        }
    )


def with_slack_link(record: HandoffRecord, link: SlackLink) -> HandoffRecord:
    return HandoffRecord(**{**record, "slack": link})
