"""Slack text and Block Kit payloads for the escalation bridge: pure functions, no I/O.

Whatever a customer, operator or the agent wrote reaches mrkdwn only through `escape_mrkdwn`
(directly or through the builders here), because Slack turns `<!channel>`, `<@U123>` and
`<https://evil|bank>` into live mentions and disguised links. Mentions need a literal `<` unless
a message is posted with `parse="full"` or `link_names=True`, so the bridge must never set those.

Speaker labels and names are passed around unescaped and escaped where they enter mrkdwn, so
nothing is escaped twice. Conversation text (reasons, excerpts, mirrored messages) goes through
a `Masker` first, so masks are never escaped or split across parts.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate
from typing import Any, Iterable, Mapping, get_args
from urllib.parse import quote

from handoff.actions import HANDBACK_NOTE_LIMIT
from handoff.packet import HandoffPacket, ToolCallAtHandoff, read_packet
from handoff.record import HandoffStatus
from slack_escalation.masking import Masker
from handoff.sla import (
    CLOCK_LABELS,
    STATE_LABELS,
    Clock,
    ClockName,
    SlaView,
    format_minutes,
    shown_elapsed,
)

Block = dict[str, Any]
SlackMessage = tuple[str, list[Block]]

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
BUTTON_VALUE_LIMIT = 2000
EXCERPT_LIMIT = 300
NAME_LIMIT = 100
REASON_LIMIT = 2000
RECENT_SHOWN = 5
MAX_BLOCKS = 50
# Below this a part could not hold a marker plus a few characters of content.
MIN_PART_CONTENT = 40

EMPTY_MESSAGE = "_(empty message)_"
REPLY_HINT = (
    "Reply in this thread to answer the customer. "
    "Start with `ai:` to answer as the AI, `note:` for an internal note."
)

ACTION_CLAIM = "escalation_claim"
ACTION_RETURN = "escalation_return"
ACTION_RESOLVE = "escalation_resolve"
ACTION_TAKE_OVER = "escalation_take_over"
ACTION_OPEN_DASHBOARD = "escalation_open_dashboard"
VIEW_HANDBACK = "escalation_handback"
HANDBACK_BLOCK = "handback_note"
HANDBACK_INPUT = "note"

# Explicit bidi embeddings, overrides and isolates. They cannot form a mention, but a customer can
# use them to visually reorder the bridge's own text that follows in the same line (speaker
# label, part marker). Ordinary Arabic/Hebrew text does not need them: it relies on the implicit
# bidi algorithm and LRM/RLM/ALM, which are kept, as are ZWJ (emoji sequences) and ZWNJ (Persian).
_BIDI_CONTROLS: dict[int, str | None] = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_MRKDWN_TABLE = str.maketrans(
    {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", **_BIDI_CONTROLS}
)
_PLAIN_TABLE = str.maketrans(_BIDI_CONTROLS)

_ZWJ = "\u200d"


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in mrkdwn: no mentions, no links, no bidi reordering."""
    return text.translate(_MRKDWN_TABLE)


# --- Measuring and cutting -------------------------------------------------------------------
# Slack states its limits in "characters" without saying which kind; counting UTF-16 code units
# (as JavaScript does) is never less than counting code points, so parts fit under either rule.


def _width(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _prefix_widths(text: str) -> list[int]:
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]


def _furthest_fit(prefix: list[int], start: int, budget: int) -> int:
    """The largest end such that text[start:end] is at most `budget` wide."""
    return bisect_right(prefix, prefix[start] + budget) - 1


def _breaks_unit(text: str, i: int) -> bool:
    """Would cutting before text[i] break a surrogate pair or an entity `escape_mrkdwn` wrote?"""
    if "\ud800" <= text[i - 1] <= "\udbff" and "\udc00" <= text[i] <= "\udfff":
        return True
    # Every `&` in escaped text starts one of our entities, and the longest is 5 characters.
    amp = text.rfind("&", max(0, i - 4), i)
    return amp != -1 and ";" not in text[amp:i]


def _extends_cluster(ch: str) -> bool:
    """Characters that belong to the grapheme before them (accents, emoji modifiers, tags)."""
    code = ord(ch)
    return (
        ch == _ZWJ
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _breaks_grapheme(text: str, i: int) -> bool:
    """Would cutting before text[i] split what a reader sees as one character (e.g. an emoji)?"""
    before, after = text[i - 1], text[i]
    if before == _ZWJ or _extends_cluster(after):
        return True
    if not (_is_regional_indicator(before) and _is_regional_indicator(after)):
        return False
    run = 0
    while run < i and _is_regional_indicator(text[i - 1 - run]):
        run += 1
    return run % 2 == 1  # flags are pairs: an odd run means `before` opens a flag


def _hard_cut(text: str, start: int, end: int) -> int:
    """The cut nearest to `end` that keeps graphemes whole, or at least entities and pairs."""
    middle = start + (end - start) // 2
    for i in range(end, middle, -1):
        if not _breaks_unit(text, i) and not _breaks_grapheme(text, i):
            return i
    # Only pathological input (hundreds of stacked accents) gets here.
    return next(i for i in range(end, start, -1) if not _breaks_unit(text, i))


def _cut(text: str, prefix: list[int], start: int, budget: int) -> int:
    """Where the part starting at `start` should end: a newline, else a space, else anywhere safe.

    A separator in the first half of the window is ignored, so one early line break does not
    waste a part (their number is capped).
    """
    end = _furthest_fit(prefix, start, budget)
    if end >= len(text):
        return len(text)
    middle = start + (end - start) // 2
    for separator in ("\n", " "):
        at = text.rfind(separator, middle, end)
        if at != -1 and not _breaks_grapheme(text, at + 1):
            return at + 1
    return _hard_cut(text, start, end)


def _truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` wide, ending in "…" if anything was dropped."""
    if _width(text) <= limit:
        return text
    end = _hard_cut(text, 0, _furthest_fit(_prefix_widths(text), 0, limit - 1))
    return text[:end].rstrip() + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    """Untrusted text as one escaped line of at most `limit` width."""
    return _truncate(escape_mrkdwn(_one_line(text)), limit)


# --- Splitting long messages -----------------------------------------------------------------


def _part_marker(index: int, total: int) -> str:
    return f"_(part {index}/{total})_ "


def _truncation_notice(hidden_characters: int) -> str:
    return (
        f"\n_… {hidden_characters:,} more characters not shown here; "
        "read the full message in the dashboard._"
    )


def _unescaped_length(escaped: str) -> int:
    return (
        len(escaped)
        - 4 * escaped.count("&amp;")
        - 3 * (escaped.count("&lt;") + escaped.count("&gt;"))
    )


def _chunks(escaped: str, budget: int, max_parts: int, notice_width: int) -> tuple[list[str], str]:
    """Up to `max_parts` consecutive pieces of `escaped`, and whatever did not fit."""
    prefix = _prefix_widths(escaped)
    chunks: list[str] = []
    start = 0
    while start < len(escaped):
        end = _cut(escaped, prefix, start, budget)
        if end < len(escaped) and len(chunks) == max_parts - 1:
            end = _cut(escaped, prefix, start, budget - notice_width)
            chunks.append(escaped[start:end])
            return chunks, escaped[end:]
        chunks.append(escaped[start:end])
        start = end
    return chunks, ""


def split_for_slack(text: str, limit: int = 2900, max_parts: int = 15) -> list[str]:
    """Escape `text` and split it into parts of at most `limit` width, markers included.

    Parts break at a newline, else a space, never inside an entity, a surrogate pair or an
    emoji. Beyond `max_parts`, the last part says how much was left out.
    """
    escaped = escape_mrkdwn(text)
    if not escaped.strip():
        return [EMPTY_MESSAGE]
    if _width(escaped) <= limit:
        return [escaped]
    notice_width = _width(_truncation_notice(len(text)))
    budget = limit - _width(_part_marker(max_parts, max_parts))
    if max_parts < 1 or budget - notice_width < MIN_PART_CONTENT:
        raise ValueError(f"limit {limit} with max_parts {max_parts} leaves no room for content")
    chunks, hidden = _chunks(escaped, budget, max_parts, notice_width)
    total = len(chunks)
    parts = chunks
    if total > 1:
        parts = [_part_marker(i, total) + chunk for i, chunk in enumerate(chunks, 1)]
    if hidden:
        parts[-1] += _truncation_notice(_unescaped_length(hidden))
    return parts


# --- The escalation's root message -----------------------------------------------------------


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
    )


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
        moment = moment.replace(tzinfo=timezone.utc)
    fallback = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _who(name: str | None) -> str:
    return _clip(name, NAME_LIMIT) if name else "someone"


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
        return (
            f":white_check_mark: Resolved by {_who(view.resolved_by)}"
            f" at {_slack_date(view.resolved_at)}"
        )
    return ":hourglass: Waiting for an operator"


def _reply_hint(status: HandoffStatus) -> str:
    if status == "returned":
        return "The AI is answering this customer again. Press *Take over* before replying here."
    if status == "resolved":
        return "This escalation is resolved: replies in this thread are not sent to the customer."
    return REPLY_HINT


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _header(text: str) -> Block:
    # plain_text is never parsed for mentions or links, so it needs no entity escaping.
    safe = _one_line(text).translate(_PLAIN_TABLE)
    return {"type": "header", "text": _plain(_truncate(safe, HEADER_TEXT_LIMIT))}


def _button(label: str, action_id: str, session_id: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": _plain(label),
        "action_id": action_id,
        "value": session_id,
    }
    if style:
        button["style"] = style
    return button


def _resolve_button(session_id: str) -> Block:
    return {
        **_button("Resolve", ACTION_RESOLVE, session_id, style="danger"),
        "confirm": {
            "title": _plain("Resolve this escalation?"),
            "text": _plain("The AI will answer the customer's next message."),
            "confirm": _plain("Resolve"),
            "deny": _plain("Cancel"),
            "style": "danger",
        },
    }


def _status_buttons(status: HandoffStatus, session_id: str) -> list[Block]:
    if status == "resolved":
        return []
    resolve = _resolve_button(session_id)
    if status == "returned":
        return [_button("Take over", ACTION_TAKE_OVER, session_id, style="primary"), resolve]
    claim = (
        _button("Claim", ACTION_CLAIM, session_id, style="primary")
        if status == "waiting"
        else _button("Reassign to me", ACTION_CLAIM, session_id)
    )
    return [claim, _button("Return to AI", ACTION_RETURN, session_id), resolve]


def _actions(view: EscalationView) -> Block:
    open_dashboard = {
        **_button("Open in dashboard", ACTION_OPEN_DASHBOARD, view.session_id),
        "url": dashboard_link(view.dashboard_url, view.session_id),
    }
    buttons = _status_buttons(view.status, view.session_id)
    return {"type": "actions", "elements": [*buttons, open_dashboard]}


def _recent_blocks(recent: tuple[tuple[str, str], ...]) -> list[Block]:
    if not recent:
        return []
    lines = [
        f"*{_clip(label, NAME_LIMIT)}:* {_clip(text, EXCERPT_LIMIT) or EMPTY_MESSAGE}"
        for label, text in recent[-RECENT_SHOWN:]
    ]
    return [_section("*Before the handoff*\n" + "\n".join(lines))]


PACKET_ITEM_LIMIT = 200
PACKET_SUMMARY_LIMIT = 300


def _packet_section(title: str, lines: list[str]) -> Block:
    # Every line is already escaped and capped; the cut keeps a long list inside one section.
    return _section(_truncate(f"*{title}*\n" + "\n".join(lines), SECTION_TEXT_LIMIT))


def _arguments(arguments: Mapping[str, str]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in arguments.items())
    return f"({_clip(shown, PACKET_ITEM_LIMIT)})" if shown else ""


def packet_blocks(packet: HandoffPacket | None) -> list[Block]:
    """What the agent knew at handoff: its journey step, matched guidelines and tool calls."""
    if packet is None:
        return []
    knew: list[str] = []
    if packet["journey"]:
        journey = packet["journey"]
        knew.append(
            f"*Journey:* {_clip(journey['title'], NAME_LIMIT)}"
            f" – step: {_clip(journey['step'], PACKET_ITEM_LIMIT)}"
        )
    for guideline in packet["guidelines"]:
        action = guideline["action"]
        knew.append(
            f"• *When* {_clip(guideline['condition'], PACKET_ITEM_LIMIT)}"
            + (f" *→* {_clip(action, PACKET_ITEM_LIMIT)}" if action else "")
        )
    calls = [
        f"• *{_clip(call['tool'], NAME_LIMIT)}*{_arguments(call['arguments'])}: "
        f"{_clip(call['result_summary'], PACKET_SUMMARY_LIMIT) or '_no result_'}"
        for call in packet["tool_calls"]
    ]
    found = []
    if knew:
        found.append(_packet_section("What the AI was doing", knew))
    if calls:
        found.append(_packet_section("Tool calls before the handoff", calls))
    return found


def root_message(view: EscalationView) -> SlackMessage:
    """Fallback text and blocks for the thread's root message, rebuilt on every status change."""
    summary = (
        f"*Customer:* {_clip(view.customer_name, NAME_LIMIT)}\n"
        f"*Reason:* {_clip(view.reason, REASON_LIMIT) or '_not given_'}\n"
        f"*Handed off:* {_slack_date(view.requested_at)}"
    )
    blocks = [
        _header(f"Escalation: {view.customer_name}"),
        _section(summary),
        _section(_status_line(view)),
        *sla_blocks(view),
        *_recent_blocks(view.recent),
        *packet_blocks(view.packet),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _reply_hint(view.status)}]},
        _actions(view),
    ]
    fallback = (
        f"Escalation ({view.status}): {_clip(view.customer_name, NAME_LIMIT)}"
        f" – {_clip(view.reason, EXCERPT_LIMIT)}"
    )
    return fallback, blocks


# --- The SLA clock -----------------------------------------------------------------------------

SLA_STATE_EMOJI = {
    "ok": ":large_green_circle:",
    "due_soon": ":large_yellow_circle:",
    "breached": ":red_circle:",
}
_STOP_WORDS = {
    "claimed": "claimed",
    "replied": "answered",
    "returned": "returned to the AI",
    "resolved": "resolved",
}


def _slack_ago(iso: str) -> str:
    """A "12 minutes ago" that Slack's clients keep current themselves, so it costs no updates."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return "at an unknown time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    fallback = moment.astimezone(timezone.utc).strftime("at %Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{ago}}|{fallback}>"


def sla_clock_text(clock: Clock) -> str:
    """One clock as "Claim 12 min / 15 min, due soon", or how it ended once stopped."""
    label = CLOCK_LABELS[clock.name]
    emoji = SLA_STATE_EMOJI[clock.state]
    target = format_minutes(clock.target)
    if clock.running:
        shown = shown_elapsed(clock)
        so_far = format_minutes(shown) if shown.total_seconds() >= 60 else "under 1 min"
        return f"{emoji} {label} {so_far} / {target}, {STATE_LABELS[clock.state]}"
    how = _STOP_WORDS.get(clock.stopped_by or "", "stopped")
    verdict = "breached" if clock.breached else "met"
    return (
        f"{emoji} {label} {verdict}: {how} after {format_minutes(clock.elapsed)} (target {target})"
    )


def sla_blocks(view: EscalationView) -> list[Block]:
    """The root message's SLA line: live wall-clock age plus the business-time clocks."""
    if view.sla is None:
        return []
    clocks = " · ".join(sla_clock_text(c) for c in (view.sla.claim, view.sla.first_reply))
    scope = " (business hours)" if view.sla.business_hours_only else ""
    text = f":stopwatch: Handed off {_slack_ago(view.requested_at)} · SLA{scope}: {clocks}"
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def claim_reminder(sla: SlaView) -> SlackMessage:
    """The thread reminder once the claim target passed with nobody on the escalation."""
    text = (
        f":alarm_clock: Nobody has claimed this escalation within the"
        f" {format_minutes(sla.claim.target)} target. Press *Claim* on the message above"
        " or reply here to take it."
    )
    return text, [_section(text)]


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
        f" *{_clip(customer_name or 'Unknown customer', NAME_LIMIT)}* within {target}."
        f" Reason: {_clip(reason, EXCERPT_LIMIT) or '_not given_'}. {link}"
    ).rstrip()
    fallback = f"SLA breached ({CLOCK_LABELS[clock].lower()}): {_clip(customer_name or 'Unknown customer', NAME_LIMIT)}"
    return fallback, [_section(text)]


# --- Message metadata ------------------------------------------------------------------------


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


# --- Mirrored conversation messages ----------------------------------------------------------


def speaker_label(
    source: str,
    participant_name: str | None,
    operator_name: str | None,
    origin: str | None,
) -> str:
    """Who said it, unescaped: "Customer (Ann)", "AI agent", "Dana (dashboard)", ...

    `origin` is where an operator acted (handoff.actions.Operator.origin).
    """
    where = f" ({origin})" if origin else ""
    person = (operator_name or participant_name or "").strip() or "An operator"
    if source == "customer":
        name = (participant_name or "").strip()
        return f"Customer ({name})" if name else "Customer"
    if source == "ai_agent":
        return "AI agent"
    if source == "human_agent":
        return f"{person}{where}"
    if source == "human_agent_on_behalf_of_ai_agent":
        return f"{person} as the AI{where}"
    return source


def mirrored_message(speaker_label: str, text: str, *, masker: Masker) -> list[SlackMessage]:
    """One (fallback text, blocks) per part, each a single section "*Speaker:* text"."""
    label = _clip(speaker_label, NAME_LIMIT)
    prefix = f"*{label}:* "
    parts = split_for_slack(masker.mask(text), limit=SECTION_TEXT_LIMIT - _width(prefix))
    return [(f"{label}: {part}", [_section(prefix + part)]) for part in parts]


# --- Notices posted in the thread ------------------------------------------------------------


def edit_not_propagated() -> str:
    return ":pencil2: Edits in Slack are not sent to the customer; send a new reply instead."


def delete_not_propagated() -> str:
    return (
        ":wastebasket: Deleting a message in Slack does not remove it for the customer; "
        "send a new reply instead."
    )


def delivery_failed(reason: str) -> str:
    return (
        f":warning: This reply was NOT delivered to the customer ({_clip(reason, EXCERPT_LIMIT)}). "
        "Send it again."
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
        shown = _clip(status or "none", NAME_LIMIT)
        situation = f"This conversation is not with a human (status: {shown})"
        remedy = "Take it over from the dashboard to answer again."
    return f":no_entry: {situation}, so this reply was NOT sent to the customer. {remedy}"


def operator_not_allowed() -> str:
    return (
        ":no_entry: You are not on the list of operators allowed to answer customers, "
        "so this reply was NOT sent. Ask an admin to add you."
    )


def take_over_prompt(text: str, session_id: str) -> list[Block]:
    """The private note to an operator whose reply was not sent, with a Take over button."""
    return [
        _section(text),
        {
            "type": "actions",
            "elements": [_button("Take over", ACTION_TAKE_OVER, session_id, style="primary")],
        },
    ]


# --- Handing back to the AI ------------------------------------------------------------------


@dataclass(frozen=True)
class HandbackTarget:
    """Which escalation a handback form belongs to, carried in the modal's private_metadata."""

    session_id: str
    channel: str
    thread_ts: str


def handback_modal(target: HandbackTarget) -> Block:
    """The form Return to AI opens: one required note, which the AI continues from."""
    return {
        "type": "modal",
        "callback_id": VIEW_HANDBACK,
        "private_metadata": json.dumps(
            {
                "session_id": target.session_id,
                "channel": target.channel,
                "thread_ts": target.thread_ts,
            }
        ),
        "title": _plain("Return to AI"),
        "submit": _plain("Return to AI"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": HANDBACK_BLOCK,
                "label": _plain("Handback note for the AI"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": HANDBACK_INPUT,
                    "multiline": True,
                    "max_length": HANDBACK_NOTE_LIMIT,
                    "placeholder": _plain("What was done, and what the customer should hear next"),
                },
                "hint": _plain(
                    "The AI answers the customer's next message from this note, "
                    "so the customer may hear what it says."
                ),
            }
        ],
    }


def handback_target(view: Mapping[str, Any]) -> HandbackTarget | None:
    """The escalation a submitted handback form names; None if its metadata is not ours."""
    try:
        meta = json.loads(str(view.get("private_metadata") or ""))
        return HandbackTarget(str(meta["session_id"]), str(meta["channel"]), str(meta["thread_ts"]))
    except (ValueError, TypeError, KeyError):
        return None


def handback_note(view: Mapping[str, Any]) -> str:
    """The note typed into a submitted handback form."""
    values = ((view.get("state") or {}).get("values") or {}).get(HANDBACK_BLOCK) or {}
    return str((values.get(HANDBACK_INPUT) or {}).get("value") or "")


def handback_posted(operator_name: str, note: str) -> SlackMessage:
    """The thread's record of a handback: who handed back and the note the AI received."""
    who = _clip(operator_name, NAME_LIMIT) or "an operator"
    heading = f":robot_face: Handed back to the AI by {who}:"
    # Escaping can make a short note several times longer: split it over sections, one message.
    parts = split_for_slack(note, limit=SECTION_TEXT_LIMIT, max_parts=MAX_BLOCKS - 1)
    return f"{heading} {parts[0]}", [_section(heading), *(_section(part) for part in parts)]
