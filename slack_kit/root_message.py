"""The escalation thread's root message: what it shows (Block Kit), and posting it once, from the
handoff tool or later from the bridge. Rendering is pure; the functions at the end do the I/O."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote

import aiohttp

from handoff.learning import read_tag
from handoff.packet import HandoffPacket, ToolCallAtHandoff, read_packet
from handoff.record import HandoffRecord, HandoffStatus, SlackLink, SlackPostState
from handoff.sla import SlaSettings, SlaView, sla_view
from slack_kit import pacing
from slack_kit.backlog import ReportedBacklogs, overflow_channel
from slack_kit.block_kit import Block, SlackMessage, button, header, plain, section
from slack_kit.masking import Masker
from slack_kit.metadata import escalation_metadata, is_root_of
from slack_kit.posted import find_in_channel
from slack_kit.root_rendering import rendering_fingerprint
from slack_kit.settings import SlackSettings
from slack_kit.sla_text import sla_blocks
from slack_kit.slack_api import (
    AnswerLost,
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    client_session,
    web_client,
)
from slack_kit.text import (
    EMPTY_MESSAGE,
    EXCERPT_LIMIT,
    NAME_LIMIT,
    SECTION_TEXT_LIMIT,
    clip,
    truncate,
)

log = logging.getLogger(__name__)

BUTTON_VALUE_LIMIT = 2000
REASON_LIMIT = 2000
# Messages from before the handoff the root message shows (the handoff tool and the bridge
# collect this many).
RECENT_MESSAGES = 5
REPLY_HINT = (
    "Reply in this thread to answer the customer. "
    "Start with `ai:` to answer as the AI, `note:` for an internal note."
)

ACTION_CLAIM = "escalation_claim"
ACTION_RETURN = "escalation_return"
ACTION_RESOLVE = "escalation_resolve"
ACTION_TAKE_OVER = "escalation_take_over"
ACTION_OPEN_DASHBOARD = "escalation_open_dashboard"


@dataclass(frozen=True)
class EscalationView:
    """What the root message shows; names and texts are raw (escaped when rendered)."""

    session_id: str
    customer_name: str
    reason: str
    requested_at: str
    status: HandoffStatus
    claimed_by: str | None
    claimed_at: str | None
    returned_by: str | None
    returned_at: str | None
    resolved_by: str | None
    resolved_at: str | None
    recent: tuple[tuple[str, str], ...]
    dashboard_url: str
    packet: HandoffPacket | None = None
    # The SLA clocks when the root message was rendered; None leaves the SLA line out.
    sla: SlaView | None = None
    # The customer's rating after the resolve (handoff/satisfaction.py): (1-5, comment).
    rating: tuple[int, str] | None = None
    # Why the AI could not finish, as the resolving operator said (handoff/learning.py).
    why: str | None = None


def _person_name(person: Mapping[str, str] | None) -> str | None:
    """A handoff record's {"id", "name"} person, as the name to show."""
    return (person.get("name") or person.get("id")) if person else None


def escalation_view(
    session_id: str,
    customer_name: str | None,
    record: Mapping[str, Any],
    recent: Iterable[tuple[str, str]],
    dashboard_url: str,
    *,
    masker: Masker,
    sla: SlaView | None = None,
) -> EscalationView:
    """The view of a handoff record (handoff.record.HandoffRecord); `recent` is (speaker label,
    text) pairs, oldest first, labels unescaped as `speaker_label` returns them. The reason and
    the excerpts come out masked (the AI may quote the customer in the reason)."""
    status = record.get("status")
    if status is None or status not in get_args(HandoffStatus):
        raise ValueError(f"unknown handoff status {status!r} for session {session_id}")
    if not session_id or len(session_id) > BUTTON_VALUE_LIMIT:
        raise ValueError("a session id must be 1 to 2000 characters to fit a Slack button value")
    return EscalationView(
        session_id=session_id,
        customer_name=(customer_name or "").strip() or "Unknown customer",
        reason=masker.mask(record.get("reason", "")),
        requested_at=record.get("requested_at", ""),
        status=status,
        claimed_by=_person_name(record.get("claimed_by")),
        claimed_at=record.get("claimed_at"),
        returned_by=_person_name(record.get("returned_by")),
        returned_at=record.get("returned_at"),
        resolved_by=_person_name(record.get("resolved_by")),
        resolved_at=record.get("resolved_at"),
        recent=tuple((label, masker.mask(text)) for label, text in recent),
        dashboard_url=dashboard_url,
        packet=_masked_packet(read_packet(record), masker),
        sla=sla,
        rating=_rating(record.get("satisfaction"), masker),
        why=tag.why.label if (tag := read_tag(record)) else None,
    )


def _rating(answer: Any, masker: Masker) -> tuple[int, str] | None:
    if not isinstance(answer, Mapping) or not isinstance(answer.get("rating"), int):
        return None
    return int(answer["rating"]), masker.mask(str(answer.get("comment") or ""))


def _masked_packet(packet: HandoffPacket | None, masker: Masker) -> HandoffPacket | None:
    """Tool arguments and results can carry what the customer typed (a card number given to
    `file_claim`), so they are masked like the excerpts; guidelines and journey steps are ours."""
    if packet is None:
        return None
    calls = [
        ToolCallAtHandoff(
            tool=call["tool"],
            arguments={name: masker.mask(value) for name, value in call["arguments"].items()},
            result_summary=masker.mask(call["result_summary"]),
        )
        for call in packet["tool_calls"]
    ]
    return HandoffPacket(
        journey=packet["journey"], guidelines=packet["guidelines"], tool_calls=calls
    )


def dashboard_link(dashboard_url: str, session_id: str) -> str:
    return f"{dashboard_url.rstrip('/')}/?session={quote(session_id, safe='')}"


def _slack_date(iso: str | None) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback for old clients."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return "an unknown time"
    if moment.tzinfo is None:  # the record writes UTC; a naive time can only mean UTC
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _who(name: str | None) -> str:
    return clip(name, NAME_LIMIT) if name else "someone"


def _status_line(view: EscalationView) -> str:
    if view.status == "claimed":
        return (
            f":raising_hand: Claimed by {_who(view.claimed_by)} at {_slack_date(view.claimed_at)}"
        )
    if view.status == "returned":
        return (
            f":robot_face: Back with the AI since {_slack_date(view.returned_at)}"
            f" (by {_who(view.returned_by)})"
        )
    if view.status == "resolved":
        line = (
            f":white_check_mark: Resolved by {_who(view.resolved_by)}"
            f" at {_slack_date(view.resolved_at)}"
        )
        if view.why is not None:
            line += f". Why the AI could not finish: {view.why}"
        if view.rating is not None:
            stars, comment = view.rating
            said = f": “{clip(comment, EXCERPT_LIMIT)}”" if comment else ""
            line += f". The customer rated the help {stars}/5{said}"
        return line
    return ":hourglass: Waiting for an operator"


def _reply_hint(status: HandoffStatus) -> str:
    if status == "returned":
        return "The AI is answering this customer again. Press *Take over* before replying here."
    if status == "resolved":
        return "This escalation is resolved: replies in this thread are not sent to the customer."
    return REPLY_HINT


def _resolve_button(session_id: str) -> Block:
    return {
        **button("Resolve", ACTION_RESOLVE, session_id, style="danger"),
        "confirm": {
            "title": plain("Resolve this escalation?"),
            "text": plain("The AI will answer the customer's next message."),
            "confirm": plain("Resolve"),
            "deny": plain("Cancel"),
            "style": "danger",
        },
    }


def _status_buttons(status: HandoffStatus, session_id: str) -> list[Block]:
    if status == "resolved":
        return []
    resolve = _resolve_button(session_id)
    if status == "returned":
        return [button("Take over", ACTION_TAKE_OVER, session_id, style="primary"), resolve]
    claim = (
        button("Claim", ACTION_CLAIM, session_id, style="primary")
        if status == "waiting"
        else button("Reassign to me", ACTION_CLAIM, session_id)
    )
    return [claim, button("Return to AI", ACTION_RETURN, session_id), resolve]


def _actions(view: EscalationView) -> Block:
    open_dashboard = {
        **button("Open in dashboard", ACTION_OPEN_DASHBOARD, view.session_id),
        "url": dashboard_link(view.dashboard_url, view.session_id),
    }
    buttons = _status_buttons(view.status, view.session_id)
    return {"type": "actions", "elements": [*buttons, open_dashboard]}


def _recent_blocks(recent: tuple[tuple[str, str], ...]) -> list[Block]:
    if not recent:
        return []
    lines = [
        f"*{clip(label, NAME_LIMIT)}:* {clip(text, EXCERPT_LIMIT) or EMPTY_MESSAGE}"
        for label, text in recent[-RECENT_MESSAGES:]
    ]
    return [section("*Before the handoff*\n" + "\n".join(lines))]


PACKET_ITEM_LIMIT = 200
PACKET_SUMMARY_LIMIT = 300


def _packet_section(title: str, lines: list[str]) -> Block:
    # Every line is already escaped and capped; the cut keeps a long list inside one section.
    return section(truncate(f"*{title}*\n" + "\n".join(lines), SECTION_TEXT_LIMIT))


def _arguments(arguments: Mapping[str, str]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in arguments.items())
    return f"({clip(shown, PACKET_ITEM_LIMIT)})" if shown else ""


def packet_blocks(packet: HandoffPacket | None) -> list[Block]:
    """What the agent knew at handoff: its journey step, matched guidelines and tool calls."""
    if packet is None:
        return []
    knew: list[str] = []
    if packet["journey"]:
        journey = packet["journey"]
        knew.append(
            f"*Journey:* {clip(journey['title'], NAME_LIMIT)}"
            f" – step: {clip(journey['step'], PACKET_ITEM_LIMIT)}"
        )
    for guideline in packet["guidelines"]:
        action = guideline["action"]
        knew.append(
            f"• *When* {clip(guideline['condition'], PACKET_ITEM_LIMIT)}"
            + (f" *→* {clip(action, PACKET_ITEM_LIMIT)}" if action else "")
        )
    calls = [
        f"• *{clip(call['tool'], NAME_LIMIT)}*{_arguments(call['arguments'])}: "
        f"{clip(call['result_summary'], PACKET_SUMMARY_LIMIT) or '_no result_'}"
        for call in packet["tool_calls"]
    ]
    found = []
    if knew:
        found.append(_packet_section("What the AI was doing", knew))
    if calls:
        found.append(_packet_section("Tool calls before the handoff", calls))
    return found


def render(view: EscalationView) -> SlackMessage:
    """Fallback text and blocks for the thread's root message, rebuilt on every status change."""
    summary = (
        f"*Customer:* {clip(view.customer_name, NAME_LIMIT)}\n"
        f"*Reason:* {clip(view.reason, REASON_LIMIT) or '_not given_'}\n"
        f"*Handed off:* {_slack_date(view.requested_at)}"
    )
    blocks = [
        header(f"Escalation: {view.customer_name}"),
        section(summary),
        section(_status_line(view)),
        *sla_blocks(view.sla, view.requested_at),
        *_recent_blocks(view.recent),
        *packet_blocks(view.packet),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _reply_hint(view.status)}]},
        _actions(view),
    ]
    fallback = (
        f"Escalation ({view.status}): {clip(view.customer_name, NAME_LIMIT)}"
        f" – {clip(view.reason, EXCERPT_LIMIT)}"
    )
    return fallback, blocks


# --- Posting ---------------------------------------------------------------------------------


async def find_root_message(caller: SlackCaller, channel: str, session_id: str) -> str | None:
    """The ts of a root message already posted for this session (its metadata names the session)."""
    return await find_in_channel(caller, channel, lambda message: is_root_of(message, session_id))


def root_message_post(view: EscalationView) -> dict[str, Any]:
    """chat.postMessage's arguments for the root message, but the channel."""
    text, root_blocks = render(view)
    return {
        "text": text,
        "blocks": root_blocks,
        "metadata": escalation_metadata(view.session_id),
        "unfurl_links": False,
        "unfurl_media": False,
    }


async def root_link(caller: SlackCaller, channel: str, session_id: str, ts: str) -> SlackLink:
    """The posted root message's link, its permalink included when Slack gives one."""
    try:
        permalink = str(
            (await caller.call("chat.getPermalink", channel=channel, message_ts=ts)).get(
                "permalink", ""
            )
        )
    except (SlackUnavailable, SlackRejected):
        permalink = ""
    log.info("escalation posted session=%s channel=%s ts=%s", session_id, channel, ts)
    return SlackLink(state="posted", channel=channel, ts=ts, permalink=permalink)


async def post_root_message(caller: SlackCaller, channel: str, view: EscalationView) -> SlackLink:
    """Post the root message; a lost answer is looked up by its metadata before any retry."""
    ts = await caller.post_message(
        lambda: find_root_message(caller, channel, view.session_id),
        priority=pacing.FIRST,
        channel=channel,
        **root_message_post(view),
    )
    return await root_link(caller, channel, view.session_id, ts)


class SlackEscalationNotifier:
    """The handoff tool's way to open the Slack thread; on any failure the bridge retries later."""

    # A failed post leaves the handoff pending: the bridge posts it later.
    initial_state: SlackPostState = "pending"

    def __init__(
        self,
        slack: SlackSettings,
        dashboard_url: str,
        sla: SlaSettings,
        backlogs: ReportedBacklogs | None = None,
    ) -> None:
        self._slack = slack
        self._dashboard_url = dashboard_url
        self._sla = sla
        self._session: aiohttp.ClientSession | None = None
        # What the bridges last reported waiting per channel (the overflow rule).
        self._backlogs = backlogs or ReportedBacklogs()

    async def escalation_requested(
        self,
        session_id: str,
        record: HandoffRecord,
        customer_name: str,
        recent: Sequence[tuple[str, str]],
        labels: Sequence[str] = (),
    ) -> SlackLink:
        if self._session is None:
            self._session = client_session(max_connections=10)
        # Slack refusing with 429 means the channel's allowance is spent by the bridges'
        # posts: the root is left to them (their shared pace posts roots first) rather than
        # retried here, where it would wait for a free second the bridges never leave.
        caller = SlackCaller(
            web_client(self._slack.bot_token, self._slack.api_url, self._session),
            rate_limit_waits=1,
        )
        routed = self._slack.routes.route(record, labels)
        backlogs = self._backlogs.current(time.monotonic())
        channel = overflow_channel(
            routed, backlogs, self._slack.overflow_channel, self._slack.behind_after_s
        )
        if channel in backlogs:
            # The bridges have posts waiting for this channel: they post the root first.
            log.info(
                "escalation left for the bridges to post session=%s channel=%s (posts wait "
                "for the channel)",
                session_id,
                channel,
            )
            return SlackLink(state="pending", channel=channel)
        if channel != routed:
            log.info(
                "escalation overflows session=%s from=%s to=%s (its channel is behind)",
                session_id,
                routed,
                channel,
            )
        # The SLA line as the bridge draws it, so the bridge need not draw this root again.
        sla = sla_view(record, self._sla, datetime.now(UTC))
        view = escalation_view(
            session_id,
            customer_name,
            dict(record),
            tuple(recent),
            self._dashboard_url,
            masker=self._slack.masker,
            sla=sla,
        )
        try:
            link = await post_root_message(caller, channel, view)
            link["rendered"] = rendering_fingerprint(record, sla)
            return link
        except AnswerLost as error:
            log.warning(
                "escalation post's answer lost session=%s channel=%s, left pending for the "
                "bridge to find or post: %s",
                session_id,
                channel,
                error,
            )
            return SlackLink(state="pending", channel=channel, maybe_posted=True)
        except (SlackUnavailable, SlackRejected) as error:
            log.warning(
                "escalation post failed session=%s channel=%s, left pending for the bridge: %s",
                session_id,
                channel,
                error,
            )
            # The chosen channel is kept, so the bridge looks for (and posts) the thread there
            # even if labels or routes change before it retries.
            return SlackLink(state="pending", channel=channel)
