"""What the bridge tells operators besides the conversation: thread notes, private notes,
the SLA reminder and breach notice. Pure."""

from __future__ import annotations

from handoff.sla import CLOCK_LABELS, ClockName, SlaView, format_minutes
from slack_kit.block_kit import Block, SlackMessage, button, section
from slack_kit.root_message import ACTION_TAKE_OVER
from slack_kit.text import EXCERPT_LIMIT, NAME_LIMIT, clip, escape_mrkdwn


def edit_not_propagated() -> str:
    return ":pencil2: Edits in Slack are not sent to the customer; send a new reply instead."


def delete_not_propagated() -> str:
    return (
        ":wastebasket: Deleting a message in Slack does not remove it for the customer; "
        "send a new reply instead."
    )


def delivery_failed(reason: str) -> str:
    return (
        f":warning: This reply was NOT delivered to the customer ({clip(reason, EXCERPT_LIMIT)}). "
        "Send it again."
    )


def reply_arrived_late(ts: str) -> str:
    # Slack's permalink syntax would need the workspace; the ts names the reply unambiguously.
    return (
        ":turtle: A reply reached the bridge late, after a newer one had already been "
        f"delivered, so the customer received it out of order (Slack ts {ts})."
    )


def empty_reply_not_sent() -> str:
    return ":information_source: That reply had no text, so nothing was sent to the customer."


def delivery_pending() -> str:
    return (
        ":hourglass_flowing_sand: Parlant is unreachable; this reply is queued "
        "and will be delivered once it is back."
    )


def session_not_with_human(status: str | None) -> str:
    if status == "returned":
        situation = "This conversation was handed back to the AI"
        remedy = "Press *Take over* on the escalation message to answer again."
    elif status == "resolved":
        situation = "This conversation is resolved"
        remedy = "Take it over from the dashboard to answer again."
    else:
        shown = clip(status or "none", NAME_LIMIT)
        situation = f"This conversation is not with a human (status: {shown})"
        remedy = "Take it over from the dashboard to answer again."
    return f":no_entry: {situation}, so this reply was NOT sent to the customer. {remedy}"


def operator_not_allowed() -> str:
    return (
        ":no_entry: You are not on the list of operators allowed to answer customers (Slack "
        "guests never are), so this reply was NOT sent. Ask an admin to add you."
    )


def take_over_prompt(text: str, session_id: str) -> list[Block]:
    """The private note to an operator whose reply was not sent, with a Take over button."""
    return [
        section(text),
        {
            "type": "actions",
            "elements": [button("Take over", ACTION_TAKE_OVER, session_id, style="primary")],
        },
    ]


def claim_reminder(sla: SlaView) -> SlackMessage:
    """The thread reminder once the claim target passed with nobody on the escalation."""
    text = (
        f":alarm_clock: Nobody has claimed this escalation within the"
        f" {format_minutes(sla.claim.target)} target. Press *Claim* on the message above"
        " or reply here to take it."
    )
    return text, [section(text)]


def breach_notice(
    clock: ClockName, customer_name: str, reason: str, target: str, permalink: str
) -> SlackMessage:
    """The supervisor channel's notice of one breached clock, linking the thread."""
    what = "nobody claimed" if clock == "claim" else "no person answered"
    link = (
        f"<{escape_mrkdwn(permalink)}|Open the thread>" if permalink.startswith("https://") else ""
    )
    text = (
        f":rotating_light: SLA breached: {what} the escalation of"
        f" *{clip(customer_name or 'Unknown customer', NAME_LIMIT)}* within {target}."
        f" Reason: {clip(reason, EXCERPT_LIMIT) or '_not given_'}. {link}"
    ).rstrip()
    fallback = f"SLA breached ({CLOCK_LABELS[clock].lower()}): {clip(customer_name or 'Unknown customer', NAME_LIMIT)}"
    return fallback, [section(text)]


ACTION_SEND_HELD = "held_reply_send_anyway"
ACTION_EDIT_HELD = "held_reply_edit"


def reply_held(why: str, reply_id: int) -> SlackMessage:
    """The private note to an operator whose `ai:` reply the agent would not send in its name,
    with *Send anyway* (recorded) and *Edit*."""
    text = (
        ":raised_hand: This reply was NOT sent to the customer in the agent's name: "
        f"{escape_mrkdwn(clip(why, EXCERPT_LIMIT))}. Send it anyway (recorded with the message), "
        "or edit it."
    )
    return text, [
        section(text),
        {
            "type": "actions",
            "elements": [
                button("Send anyway", ACTION_SEND_HELD, str(reply_id), style="danger"),
                button("Edit", ACTION_EDIT_HELD, str(reply_id), style="primary"),
            ],
        },
    ]


def held_reply_gone() -> str:
    return ":information_source: That reply was already sent or edited; nothing more happened."


def held_reply_not_yours() -> str:
    return ":no_entry: Only the operator who wrote a held reply may send it anyway or edit it."


def sent_despite_rule(user_id: str, rule: str) -> str:
    """The thread's record of a reply sent in the agent's name despite a rule."""
    return (
        f":raised_hand: <@{user_id}>'s reply above went to the customer in the agent's name "
        f"despite the rule `{escape_mrkdwn(clip(rule, NAME_LIMIT))}` (sent anyway)."
    )


def sent_after_edit(user_id: str, text: str) -> str:
    """The thread's record of a held reply sent once edited: what the customer received."""
    return (
        f":pencil2: <@{user_id}>'s reply above was held, edited and sent to the customer in the "
        f"agent's name as: {escape_mrkdwn(clip(text, EXCERPT_LIMIT))}"
    )
