"""The agent's tools, bound to the claims store and the escalation notifier at start-up.

No `from __future__ import annotations` here: Parlant inspects the tools' real annotations.
"""

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Protocol, cast

import parlant.sdk as p

from agent.customers.identity import is_guest_customer_id
from agent.drafts import NOT_WHILE_DRAFTING, drafted_customer, is_draft
from agent.key_locks import KeyLocks
from agent.packet_capture import JourneySteps, capture_packet
from agent.store.claims import Claims, UnknownCustomer
from handoff.actions import is_not_sent_notice, is_page_opening
from handoff.record import (
    HANDOFF_LABEL,
    METADATA_KEY,
    HandoffRecord,
    ReasonCategory,
    SlackLink,
    SlackPostState,
    read_record,
    request_handoff,
    utc_now_iso,
    with_slack_link,
)
from slack_kit.root_message import RECENT_MESSAGES
from slack_kit.speakers import speaker_label

# What a guest hears instead of customer data: guests may ask general questions and reach a
# person, but no policy or claim is read or written for them.
GUEST_SUMMARY = (
    "You are chatting as a guest, so I cannot see or change a policy or a claim. "
    "Sign in on our website to chat about your own policy, or ask for a person."
)

# What happens after a claim is filed: said only with a filed claim's result, so no reply can
# promise an adjuster for a claim that was not filed.
CLAIM_FILED_NEXT = "An adjuster will contact you within two business days."

log = logging.getLogger(__name__)


class EscalationNotifier(Protocol):
    """Tells operators about a new handoff (the Slack root message, when Slack is configured)."""

    @property
    def initial_state(self) -> SlackPostState: ...

    async def escalation_requested(
        self,
        session_id: str,
        record: HandoffRecord,
        customer_name: str,
        recent: Sequence[tuple[str, str]],
        labels: Sequence[str],
    ) -> SlackLink: ...


class NoEscalationChannel:
    """Without Slack, handoffs show in the dashboard only."""

    initial_state: SlackPostState = "disabled"

    async def escalation_requested(
        self,
        session_id: str,
        record: HandoffRecord,
        customer_name: str,
        recent: Sequence[tuple[str, str]],
        labels: Sequence[str] = (),
    ) -> SlackLink:
        log.info(
            "handoff session=%s shown in the dashboard only (Slack not configured)", session_id
        )
        return SlackLink(state="disabled")


# One agent on SQLite (and tests that build the tools alone): the lock of this process.
_LOCAL_LOCKS = KeyLocks()


async def start_handoff(
    session: p.Session,
    reason: str,
    category: ReasonCategory,
    notifier: EscalationNotifier,
    journey_steps: JourneySteps | None = None,
    locks: KeyLocks | None = None,
) -> None:
    """Record a handoff on `session` (record, label, what the AI knew) and tell operators; the
    handoff tool and a failed AI turn (agent/ai_failure.py) both hand off through it. The
    record says where the Slack thread takes over: after the last event this turn read.

    Under the session's handoff lock, across replicas: two AI turns of one session running at
    once on two agents (the customer's messages reached both) both handed off, each read no
    record and each posted a root message. The second now waits, reads the first's record and
    posts nothing.

    The session goes to manual mode here, at once, not only through the tool's result: Parlant
    applies a tool's `control` when its turn completes, and a customer who writes while the
    handoff tool runs cancels that turn, so the AI went on answering an open escalation."""
    async with (locks or _LOCAL_LOCKS).hold(f"handoff:{session.id}"):
        await _start_handoff(session, reason, category, notifier, journey_steps)
    await session.update(mode="manual")


async def _start_handoff(
    session: p.Session,
    reason: str,
    category: ReasonCategory,
    notifier: EscalationNotifier,
    journey_steps: JourneySteps | None,
) -> None:
    existing = read_record({METADATA_KEY: await session.metadata.get(METADATA_KEY)})
    packet = await capture_packet(journey_steps or JourneySteps())
    seen = [int(e.offset) for e in session.interaction.events]
    record = request_handoff(
        existing,
        reason,
        utc_now_iso(),
        notifier.initial_state,
        packet,
        category,
        thread_from=max(seen) + 1 if seen else 0,
    )
    await session.labels.add(HANDOFF_LABEL)
    if record is not existing:
        log.info(
            # The reason is the model's free text and can quote a card number: its length only.
            "handoff requested session=%s category=%s reason_chars=%d journey=%r guidelines=%d "
            "tool_calls=%d",
            session.id,
            record["reason_category"],
            len(record["reason"]),
            packet["journey"]["title"] if packet["journey"] else None,
            len(packet["guidelines"]),
            len(packet["tool_calls"]),
        )
        messages = [e for e in session.interaction.events if e.kind == p.EventKind.MESSAGE]
        recent = [_recent_message(e) for e in messages[-RECENT_MESSAGES:]]
        link = await notifier.escalation_requested(
            session.id, record, session.customer.name, recent, sorted(session.labels)
        )
        # Written after the post attempt, so the bridge only ever retries a post that failed.
        await session.metadata.set(
            METADATA_KEY, dict(cast(Mapping[str, Any], with_slack_link(record, link)))
        )


def build_tools(
    store: Claims,
    notifier: EscalationNotifier,
    journey_steps: JourneySteps | None = None,
    locks: KeyLocks | None = None,
) -> dict[str, p.ToolEntry]:
    """The tools by name, as the agent declaration refers to them."""

    @p.tool
    async def get_policy_details(context: p.ToolContext) -> p.ToolResult:
        """Fetch the customer's insurance policy: product, coverage, deductible, premium, renewal date."""
        customer_id = drafted_customer(context.customer_id)  # a draft reads as its customer
        if is_guest_customer_id(customer_id):
            return p.ToolResult(data={"found": False, "guest": True, "summary": GUEST_SUMMARY})
        try:
            # A worker thread: the store blocks on its database (a network round trip on PostgreSQL).
            policy = await asyncio.to_thread(store.policy_for, customer_id)
        except UnknownCustomer:
            return p.ToolResult(
                data={"found": False, "summary": "No policy is on file for this customer."}
            )
        summary = (
            f"Policy {policy.policy_number} ({policy.product}) covers {policy.coverage}. "
            f"Deductible ${policy.deductible:,}, premium ${policy.premium:,} a year, "
            f"renews on {policy.renews_on}."
        )
        return p.ToolResult(data={"found": True, **asdict(policy), "summary": summary})

    @p.tool
    async def get_open_claims(context: p.ToolContext) -> p.ToolResult:
        """List the customer's open insurance claims with their ids and statuses."""
        customer_id = drafted_customer(context.customer_id)
        if is_guest_customer_id(customer_id):
            return p.ToolResult(data={"claims": [], "guest": True, "summary": GUEST_SUMMARY})
        claims = await asyncio.to_thread(store.open_claims, customer_id)
        if not claims:
            summary = "You have no open claims."
        else:
            summary = (
                "Your open claims: "
                + "; ".join(
                    # The customer's own words often end with a full stop already.
                    f"{c.claim_id} ({c.status}, filed {c.filed_at[:10]}): {c.details.rstrip('.')}"
                    for c in claims
                )
                + "."
            )
        return p.ToolResult(data={"claims": [asdict(c) for c in claims], "summary": summary})

    @p.tool
    async def file_claim(context: p.ToolContext, claim_details: str) -> p.ToolResult:
        """File a new insurance claim under the customer's policy.

        claim_details: what happened, when and where, in the customer's words.
        """
        if is_draft(context.customer_id):  # drafting never files anything
            return p.ToolResult(data={"filed": False, "draft": True, "summary": NOT_WHILE_DRAFTING})
        if is_guest_customer_id(context.customer_id):
            return p.ToolResult(data={"filed": False, "guest": True, "summary": GUEST_SUMMARY})
        if not claim_details.strip():
            return p.ToolResult(
                data={"filed": False, "summary": "The claim needs a description of what happened."}
            )
        try:
            claim = await asyncio.to_thread(store.file_claim, context.customer_id, claim_details)
        except UnknownCustomer:
            return p.ToolResult(
                data={
                    "filed": False,
                    "summary": "No policy is on file, so no claim could be filed.",
                }
            )
        log.info("claim filed session=%s claim=%s", context.session_id, claim.claim_id)
        return p.ToolResult(
            data={
                "filed": True,
                **asdict(claim),
                "summary": (
                    f"Claim {claim.claim_id} was filed under policy {claim.policy_number}. "
                    + CLAIM_FILED_NEXT
                ),
            }
        )

    @p.tool
    async def initiate_human_handoff(
        context: p.ToolContext, reason: str, category: ReasonCategory = ReasonCategory.OTHER
    ) -> p.ToolResult:
        """Hand the conversation to a human support operator; the AI stays silent until handed back.

        reason: why a person is needed, in a few words.
        category: customer_asked (they asked for a person), cannot_help (you cannot do what
        they need), complaint (a formal complaint), legal_question, legal_threat (they threaten
        legal action), or other.
        """
        if is_draft(context.customer_id):  # the customer is with a person already
            return p.ToolResult(data={"handoff": "not started", "summary": NOT_WHILE_DRAFTING})
        await start_handoff(
            p.Session.current, reason, ReasonCategory(category), notifier, journey_steps, locks
        )
        return p.ToolResult(
            data={
                "handoff": "started",
                "summary": "A human operator has been asked to join the conversation.",
            },
            control={"mode": "manual"},
        )

    tools = [get_policy_details, get_open_claims, file_claim, initiate_human_handoff]
    return {t.tool.name: t for t in tools}


def _recent_message(event: p.Event) -> tuple[str, str]:
    """(who, what) of one message event, as the root message shows it; from the event rather
    than Parlant's message view, whose messages carry no metadata (the page's opening and the
    gateway's notices are told by it)."""
    data = cast(Mapping[str, Any], event.data)
    label = speaker_label(
        event.source.value,
        data["participant"]["display_name"],
        None,
        None,
        page_opening=is_page_opening(event.metadata),
        not_sent_notice=is_not_sent_notice(event.metadata),
    )
    return label, str(data["message"])
