"""Pure functions from Parlant data to what the dashboard shows and exports; no I/O, no Streamlit.

Anything that came from a customer, an operator or the AI is untrusted text: it is returned
as plain strings for `st.text`/`st.code`, or escaped with `escape_markdown` where it must sit
inside Markdown (captions, labels, the Markdown export).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from dashboard.model import Escalation, RawEvent
from handoff.actions import (
    HANDBACK,
    INTERNAL_NOTE,
    RESOLUTION,
    is_not_sent_notice,
    is_page_opening,
)
from handoff.copilot_events import DRAFT_OFFERED, read_held
from handoff.failed_turn import read_failed_turn
from handoff.packet import read_packet
from handoff.record import HandoffRecord, ReasonCategory, handoff_count, read_category
from handoff.sla import (
    CLOCK_LABELS,
    STATE_LABELS,
    Clock,
    SlaSettings,
    SlaView,
    format_minutes,
    parse_instant,
    sla_view,
)

# Most urgent first: a waiting customer has nobody yet, a claimed one has somebody.
STATUS_ORDER: Mapping[str, int] = {"waiting": 0, "claimed": 1, "returned": 2, "resolved": 3}
UNKNOWN_STATUS = "unknown"


def parse_time(value: Any) -> datetime | None:
    """A datetime (Parlant's event times) or an ISO string (the handoff record's), in UTC if naive."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_instant(value)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&:$])")


def escape_markdown(text: str) -> str:
    """Text safe inside st.markdown/st.caption: no links, emphasis, HTML or LaTeX from the input."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def format_time(at: datetime | None) -> str:
    """The one way the dashboard writes a point in time: minutes, in UTC, said so."""
    if at is None:
        return "–"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# The queue's sortable time column, in the same shape (Streamlit's moment-style format).
TIME_COLUMN_FORMAT = "YYYY-MM-DD HH:mm [UTC]"


def format_age(seconds: float) -> str:
    # One way to write a duration, in the dashboard and on Slack's SLA line.
    return format_minutes(timedelta(seconds=max(0.0, seconds)))


def safe_url(value: Any) -> str | None:
    """The URL if it is http(s); a `javascript:` or other scheme must never become a link."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def _person_name(person: Any) -> str:
    return str(person.get("name") or person.get("id") or "") if isinstance(person, Mapping) else ""


# ---------------------------------------------------------------------------------------------
# Queue


# Statuses in which a customer is still waiting for a person to finish with them.
OPEN_STATUSES = frozenset({"waiting", "claimed"})
GUEST = "Guest"


def is_guest(customer_id: str) -> bool:
    """Parlant's own guest customer (`guest`) and the gateway's guests (`guest-<random>`)."""
    return customer_id == "guest" or customer_id.startswith("guest-")


def customer_label(customer_id: str, names: Mapping[str, str]) -> str:
    """The customer's name (from their sign-in token), "Guest" for guests, else the id."""
    if is_guest(customer_id):
        return GUEST
    return names.get(customer_id) or customer_id


# Parlant's session modes in plain words: "manual" meant nothing to a supervisor.
AI_MODE_WORDS: Mapping[str, str] = {
    "auto": "the AI answers",
    "manual": "the AI is paused; a person answers",
}


def ai_mode_words(mode: str) -> str:
    return AI_MODE_WORDS.get(mode, f"AI mode {mode}")


@dataclass(frozen=True)
class QueueRow:
    session_id: str
    status: str
    reason: str
    requested_at: datetime | None
    age_seconds: float
    assignee: str
    slack_url: str | None
    session_url: str
    customer_id: str
    sla: str = ""
    category: str = ReasonCategory.OTHER.label
    customer: str = ""

    @property
    def waiting_seconds(self) -> float | None:
        """Time since the handoff while the customer waits for a person; None once closed."""
        return self.age_seconds if self.status in OPEN_STATUSES else None


def slack_backlog_lines(channels: Mapping[str, tuple[int, float]]) -> list[str]:
    """One line per Slack channel behind, the longest wait first."""
    behind = sorted(((c, n, wait) for c, (n, wait) in channels.items()), key=lambda i: -i[2])
    return [
        f"Slack channel {channel} is behind: {waiting} customer "
        f"message{'s' if waiting != 1 else ''} not yet in its threads, the oldest waiting "
        f"{format_age(wait)}. Operators there read them late; the transcripts here are current."
        for channel, waiting, wait in behind
    ]


def queue_rows(
    escalations: Iterable[Escalation],
    now: datetime,
    session_link: Callable[[str], str],
    sla: SlaSettings | None = None,
    customer_names: Mapping[str, str] | None = None,
) -> list[QueueRow]:
    """Queue rows, most urgent first: by status, then the longest-waiting handoff first."""
    rows = []
    for escalation in escalations:
        record = escalation.record
        requested = parse_time(record.get("requested_at")) or escalation.created
        slack = record.get("slack") or {}
        rows.append(
            QueueRow(
                session_id=escalation.session_id,
                status=str(record.get("status") or UNKNOWN_STATUS),
                reason=str(record.get("reason") or ""),
                requested_at=requested,
                age_seconds=(now - requested).total_seconds(),
                assignee=_person_name(record.get("claimed_by")),
                slack_url=safe_url(slack.get("permalink")),
                session_url=session_link(escalation.session_id),
                customer_id=escalation.customer_id,
                sla=sla_badge(sla_view(record, sla, now)) if sla else "",
                category=read_category(record).label,
                customer=customer_label(escalation.customer_id, customer_names or {}),
            )
        )
    return sorted(rows, key=lambda r: (STATUS_ORDER.get(r.status, 9), -r.age_seconds, r.session_id))


@dataclass(frozen=True)
class QueueFilter:
    statuses: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    operators: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None
    # Sessions whose transcript matched the search; None when there is no search.
    matching_sessions: frozenset[str] | None = None


def filter_rows(rows: Sequence[QueueRow], chosen: QueueFilter) -> list[QueueRow]:
    def keep(row: QueueRow) -> bool:
        day = row.requested_at.date() if row.requested_at else None
        return (
            (not chosen.statuses or row.status in chosen.statuses)
            and (not chosen.reasons or row.reason in chosen.reasons)
            and (not chosen.operators or row.assignee in chosen.operators)
            and (chosen.since is None or (day is not None and day >= chosen.since))
            and (chosen.until is None or (day is not None and day <= chosen.until))
            and (chosen.matching_sessions is None or row.session_id in chosen.matching_sessions)
        )

    return [row for row in rows if keep(row)]


def filter_choices(rows: Sequence[QueueRow]) -> tuple[list[str], list[str]]:
    """The reasons and assignees present in the queue, for the filter widgets."""
    reasons = sorted({row.reason for row in rows if row.reason})
    operators = sorted({row.assignee for row in rows if row.assignee})
    return reasons, operators


def status_counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def queue_frame(rows: Sequence[QueueRow]) -> pd.DataFrame:
    """The queue table; st.dataframe shows cells as text, so untrusted reasons cannot inject markup.

    The link to the session comes first: at 1,280 px the table showed its first eight columns
    and the link, ninth, was off-screen."""
    return pd.DataFrame(
        {
            "session": [r.session_url for r in rows],
            "customer": [r.customer for r in rows],
            "status": [r.status for r in rows],
            "SLA": [r.sla for r in rows],
            # Only while someone waits: a returned or resolved handoff kept counting.
            "waiting for": [
                "" if r.waiting_seconds is None else format_age(r.waiting_seconds) for r in rows
            ],
            "assignee": [r.assignee for r in rows],
            "category": [r.category for r in rows],
            "reason": [r.reason for r in rows],
            "requested at": [r.requested_at for r in rows],
            # An empty cell, not Streamlit's grey "None", when there is no thread (yet).
            "slack": [r.slack_url or "" for r in rows],
            "session id": [r.session_id for r in rows],
        }
    )


# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    # Times as everywhere else in the dashboard and its exports (format_time).
    text = (
        "" if value is None else (format_time(value) if isinstance(value, datetime) else str(value))
    )
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def queue_csv(rows: Sequence[QueueRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "session_id",
            "status",
            "sla",
            "category",
            "reason",
            "requested_at",
            "waiting_seconds",
            "assignee",
            "customer",
            "customer_id",
            "slack_url",
            "session_url",
        ]
    )
    for r in rows:
        waiting = r.waiting_seconds
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    r.session_id,
                    r.status,
                    r.sla,
                    r.category,
                    r.reason,
                    r.requested_at,
                    None if waiting is None else int(waiting),
                    r.assignee,
                    r.customer,
                    r.customer_id,
                    r.slack_url,
                    r.session_url,
                )
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# SLA

SLA_BADGES: Mapping[str, str] = {"breached": "🔴", "due_soon": "🟡", "ok": "🟢"}


def sla_badge(view: SlaView | None) -> str:
    """The queue's SLA cell: the worst clock, named, e.g. "🔴 claim breached"."""
    if view is None:
        return ""
    flagged = [c for c in (view.claim, view.first_reply) if c.state == view.worst]
    if view.worst == "ok":
        return f"{SLA_BADGES['ok']} on time"
    names = " and ".join(CLOCK_LABELS[c.name].lower() for c in flagged)
    return f"{SLA_BADGES[view.worst]} {names} {STATE_LABELS[view.worst]}"


def sla_counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    """Open handoffs whose worst clock is breached or due soon, for the queue's banner."""
    open_rows = [r for r in rows if r.status in ("waiting", "claimed")]
    return {
        state: sum(1 for r in open_rows if r.sla.startswith(SLA_BADGES[state]))
        for state in ("breached", "due_soon")
    }


def sla_clock_line(clock: Clock, business_hours_only: bool) -> str:
    """One clock for the session page, plain text: elapsed of target, state, and when it is due."""
    scope = " business time" if business_hours_only else ""
    head = f"{CLOCK_LABELS[clock.name]}: {format_minutes(clock.elapsed)}{scope} of {format_minutes(clock.target)}"
    if clock.running:
        due = f", due {format_time(clock.due_at)}" if clock.due_at and not clock.breached else ""
        return f"{SLA_BADGES[clock.state]} {head}, {STATE_LABELS[clock.state]}, running{due}"
    ended = {
        "claimed": "claimed",
        "replied": "answered",
        "returned": "returned to the AI",
        "resolved": "resolved",
    }.get(clock.stopped_by or "", "stopped")
    verdict = "breached" if clock.breached else "met"
    return f"{SLA_BADGES[clock.state]} {head}, {verdict} ({ended})"


def sla_lines(record: HandoffRecord, sla: SlaSettings, now: datetime) -> list[str]:
    view = sla_view(record, sla, now)
    if view is None:
        return []
    return [sla_clock_line(c, view.business_hours_only) for c in (view.claim, view.first_reply)]


def transcript_matches(text: str, query: str) -> bool:
    """Case-insensitive match of every word of the query (so word order does not matter)."""
    haystack = text.casefold()
    return all(word in haystack for word in query.casefold().split())


# ---------------------------------------------------------------------------------------------
# Transcript


class Role(StrEnum):
    CUSTOMER = "customer"
    AI = "ai"
    HUMAN = "human"
    HUMAN_AS_AI = "human_as_ai"
    NOTE = "note"
    HANDBACK = "handback"
    TOOL = "tool"
    SYSTEM = "system"


ROLE_AVATARS: Mapping[Role, str] = {
    Role.CUSTOMER: "🧑",
    Role.AI: "🤖",
    Role.HUMAN: "🧑‍💼",
    Role.HUMAN_AS_AI: "🎭",
    Role.NOTE: "📝",
    Role.HANDBACK: "↩️",
    Role.TOOL: "🛠️",
    Role.SYSTEM: "⚙️",
}


@dataclass(frozen=True)
class ToolCallView:
    tool: str
    arguments: Any
    result: Any


@dataclass(frozen=True)
class TranscriptEntry:
    offset: int
    created: datetime
    role: Role
    label: str
    text: str
    tool_calls: tuple[ToolCallView, ...] = ()


def _operator_name(event: RawEvent) -> str:
    return _person_name((event.metadata or {}).get("operator")) or "unknown operator"


def _tool_calls(data: Any) -> tuple[ToolCallView, ...]:
    calls = data.get("tool_calls", []) if isinstance(data, Mapping) else []
    return tuple(
        ToolCallView(
            # Parlant ids are "<service>:<tool>"; the tool name is what supervisors recognise.
            tool=str(call.get("tool_id", "?")).split(":")[-1],
            arguments=call.get("arguments", {}),
            result=(call.get("result") or {}).get("data"),
        )
        for call in calls
    )


def transcript_entry(event: RawEvent) -> TranscriptEntry | None:
    """How one event reads in the transcript; None for events supervisors do not need (status)."""
    data = event.data if isinstance(event.data, Mapping) else {}

    def entry(
        role: Role, label: str, text: str, calls: tuple[ToolCallView, ...] = ()
    ) -> TranscriptEntry:
        return TranscriptEntry(event.offset, event.created, role, label, text, calls)

    if event.kind == "message":
        text = str(data.get("message", ""))
        if event.source in ("customer", "customer_ui"):
            return entry(Role.CUSTOMER, "Customer", text)
        if event.source == "ai_agent":
            return entry(Role.AI, "AI agent", text)
        if event.source == "human_agent":
            participant = data.get("participant") or {}
            name = str(participant.get("display_name") or _operator_name(event))
            return entry(Role.HUMAN, f"{name} (human operator)", text)
        if event.source == "human_agent_on_behalf_of_ai_agent":
            if is_page_opening(event.metadata):
                # The widget's agentOpeningMessage, posted by the customer's browser
                # (agent/customers/gateway.py): the page's words, not the AI's or an operator's.
                return entry(Role.HUMAN_AS_AI, "AI agent, the chat page's opening message", text)
            if is_not_sent_notice(event.metadata):
                # Written by the customer gateway when the widget's first message was refused.
                return entry(
                    Role.SYSTEM, "AI agent, notice: the customer's message was not sent", text
                )
            return entry(Role.HUMAN_AS_AI, f"AI agent, written by {_operator_name(event)}", text)
        return entry(Role.SYSTEM, f"Message from {event.source}", text)
    if event.kind == "tool":
        calls = _tool_calls(data)
        return entry(Role.TOOL, "Tool calls", ", ".join(call.tool for call in calls), calls)
    if event.kind == "custom":
        if data.get("type") == INTERNAL_NOTE:
            name = _person_name(data.get("operator")) or _operator_name(event)
            return entry(
                Role.NOTE,
                f"Internal note by {name} (not shown to the customer)",
                str(data.get("text", "")),
            )
        if data.get("type") == HANDBACK:
            name = _person_name(data.get("operator")) or "an operator"
            note = str(data.get("note") or "")
            return entry(
                Role.HANDBACK,
                f"Handed back to the AI by {name}",
                f"Handback note: {note}" if note else "No handback note.",
            )
        failed = read_failed_turn(data)
        if failed is not None:
            outcome = "handed off to a person" if failed.handed_off else "the handoff failed too"
            return entry(
                Role.SYSTEM,
                "The AI's turn failed (not shown to the customer)",
                f"Cause: {failed.cause.label}; {outcome}.",
            )
        held = read_held(data)
        if held is not None:
            return entry(
                Role.SYSTEM,
                f"A reply in the agent's name by {held.operator_name} was held",
                f"Rule: {held.rule}. Not sent to the customer.",
            )
        if data.get("type") == DRAFT_OFFERED:
            return entry(Role.SYSTEM, "The agent drafted a reply", "Offered in the Slack thread.")
        if data.get("type") == RESOLUTION:
            name = _person_name(data.get("operator")) or "an operator"
            return entry(
                Role.SYSTEM, f"Resolved by {name}", "The AI answers the customer's next message."
            )
        return entry(
            Role.SYSTEM,
            f"Event ({data.get('type', 'custom')})",
            json.dumps(data, default=str, sort_keys=True),
        )
    return None


def transcript_entries(events: Iterable[RawEvent]) -> list[TranscriptEntry]:
    return [e for e in map(transcript_entry, events) if e is not None]


@dataclass(frozen=True)
class TimelineStep:
    step: str
    at: datetime | None
    by: str


def first_claim_time(record: HandoffRecord) -> datetime | None:
    """When the handoff was first claimed (the SLA clock); records written before
    `first_claimed_at` existed kept that time in `claimed_at`."""
    return parse_time(record.get("first_claimed_at") or record.get("claimed_at"))


def _claim_steps(record: HandoffRecord) -> list[TimelineStep]:
    first = first_claim_time(record)
    latest = parse_time(record.get("claimed_at"))
    assignee = _person_name(record.get("claimed_by"))
    if latest is None or latest == first:
        return [TimelineStep("claimed", first, assignee)]
    # Only the current assignee is recorded; who claimed first is not.
    return [TimelineStep("claimed", first, ""), TimelineStep("claimed again", latest, assignee)]


def timeline(record: HandoffRecord) -> list[TimelineStep]:
    """The handoff's milestones that happened, in order of time."""
    steps = [
        TimelineStep("handed off", parse_time(record.get("requested_at")), "AI agent"),
        *_claim_steps(record),
        TimelineStep(
            "first human reply",
            parse_time(record.get("first_human_reply_at")),
            # Records from before `first_human_reply_by` existed: the reply claimed the handoff.
            _person_name(record.get("first_human_reply_by")) or "",
        ),
        TimelineStep(
            "returned to AI",
            parse_time(record.get("returned_at")),
            _person_name(record.get("returned_by")),
        ),
        TimelineStep(
            "resolved",
            parse_time(record.get("resolved_at")),
            _person_name(record.get("resolved_by")),
        ),
    ]
    happened = [s for s in steps if s.at is not None]
    return sorted(happened, key=lambda s: s.at or datetime.min.replace(tzinfo=UTC))


def timeline_frame(record: HandoffRecord) -> pd.DataFrame:
    steps = timeline(record)
    return pd.DataFrame(
        {
            "step": [s.step for s in steps],
            "at": [format_time(s.at) for s in steps],
            "by": [s.by for s in steps],
        }
    )


def sentence_inside(text: str) -> str:
    """A sentence continued after "When": "The customer asks…" reads "the customer asks…";
    an acronym or a name in capitals ("SLA", "VIP") keeps its case."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def latest_handback(entries: Sequence[TranscriptEntry]) -> TranscriptEntry | None:
    """The newest handback in the transcript: the note the AI continues from."""
    return next((e for e in reversed(entries) if e.role == Role.HANDBACK), None)


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


def visible_window(
    entries: Sequence[TranscriptEntry], shown: int
) -> tuple[list[TranscriptEntry], int]:
    """The newest `shown` entries and how many earlier ones are hidden (long transcripts)."""
    hidden = max(0, len(entries) - shown)
    return list(entries[hidden:]), hidden


def _fence(text: str) -> str:
    """A Markdown code fence longer than any backtick run in the text, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def transcript_markdown(
    session_id: str, record: HandoffRecord, entries: Sequence[TranscriptEntry]
) -> str:
    """A Markdown export; message text sits in code blocks so it is never rendered as markup."""
    lines = [f"# Session {escape_markdown(session_id)}", ""]
    if record:
        lines += [
            f"- Status: {escape_markdown(str(record.get('status', UNKNOWN_STATUS)))}",
            f"- Reason: {escape_markdown(str(record.get('reason', '')))}",
        ]
        lines += [
            f"- {step.step.capitalize()}: {format_time(step.at) if step.at else ''}"
            + (f" by {escape_markdown(step.by)}" if step.by else "")
            for step in timeline(record)
        ]
        lines.append("")
    for e in entries:
        lines.append(f"### {escape_markdown(e.label)} · {format_time(e.created)}")
        body = e.text
        if e.tool_calls:
            body = json.dumps([asdict(c) for c in e.tool_calls], indent=2, default=str)
        fence = _fence(body)
        lines += ["", fence, body, fence, ""]
    return "\n".join(lines)


def transcript_json(session_id: str, record: HandoffRecord, events: Sequence[RawEvent]) -> str:
    """A JSON export of the raw events, for audits and tooling."""
    return json.dumps(
        {
            "session_id": session_id,
            "handoff": dict(record),
            "events": [
                {**asdict(e), "created": e.created.isoformat(), "metadata": dict(e.metadata)}
                for e in events
            ],
        },
        indent=2,
        default=str,
    )


# ---------------------------------------------------------------------------------------------
# Insights


def handoff_frame(
    escalations: Iterable[Escalation], sla: SlaSettings | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """One row per handoff with the durations the SLA cares about, in seconds, and its breaches."""
    rows = []
    moment = now or datetime.now(UTC)
    for e in escalations:
        record = e.record
        view = (
            sla_view({"requested_at": e.created.isoformat(), **record}, sla, moment)
            if sla
            else None
        )
        requested = parse_time(record.get("requested_at")) or e.created
        claimed = first_claim_time(record)
        replied = parse_time(record.get("first_human_reply_at"))
        rows.append(
            {
                "session_id": e.session_id,
                "day": pd.Timestamp(requested.date()),
                "reason": str(record.get("reason") or "(none)"),
                "category": read_category(record).label,
                "status": str(record.get("status") or UNKNOWN_STATUS),
                "time_to_claim_s": (claimed - requested).total_seconds() if claimed else None,
                "time_to_first_reply_s": (replied - requested).total_seconds() if replied else None,
                "handoffs": handoff_count(record) if record else 1,
                "returned": bool(record.get("returned_at")),
                "claim_breached": bool(view and view.claim.breached),
                "first_reply_breached": bool(view and view.first_reply.breached),
            }
        )
    columns = [
        "session_id",
        "day",
        "reason",
        "category",
        "status",
        "time_to_claim_s",
        "time_to_first_reply_s",
        "handoffs",
        "returned",
        "claim_breached",
        "first_reply_breached",
    ]
    return pd.DataFrame(rows, columns=columns).astype(
        {
            "time_to_claim_s": "float64",
            "time_to_first_reply_s": "float64",
            "returned": "bool",
            "claim_breached": "bool",
            "first_reply_breached": "bool",
        }
    )


BREACH_COLUMNS = {"claim_breached": "claim", "first_reply_breached": "first reply"}


def breaches_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Breached claim and first-reply targets per day of handoff, every day in the range shown."""
    if frame.empty:
        return pd.DataFrame(
            {name: [] for name in BREACH_COLUMNS.values()}, index=pd.DatetimeIndex([], name="day")
        )
    counts = frame.groupby("day")[list(BREACH_COLUMNS)].sum().rename(columns=BREACH_COLUMNS)
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="day")
    return counts.reindex(days, fill_value=0).astype("int64")


def breaches_per_reason(frame: pd.DataFrame, top: int = 12, by: str = "reason") -> pd.DataFrame:
    """Breaches for the reasons (or categories, `by`) with most of them; those without a
    breach are left out."""
    if frame.empty:
        return pd.DataFrame(
            {name: [] for name in BREACH_COLUMNS.values()}, index=pd.Index([], name=by)
        )
    counts = (
        frame.groupby(by)[list(BREACH_COLUMNS)].sum().rename(columns=BREACH_COLUMNS).astype("int64")
    )
    counts = counts[counts.sum(axis=1) > 0]
    return counts.loc[counts.sum(axis=1).sort_values(ascending=False).index].head(top)


def handoffs_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame({"handoffs": []}, index=pd.DatetimeIndex([], name="day"))
    counts = frame.groupby("day").size().rename("handoffs")
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="day")
    return counts.reindex(days, fill_value=0).to_frame()


def handoffs_per_reason(frame: pd.DataFrame, top: int = 12, by: str = "reason") -> pd.DataFrame:
    """Handoffs and how many went back to the AI, for the most frequent reasons (or
    categories, `by="category"`: free-text reasons rarely repeat)."""
    if frame.empty:
        return pd.DataFrame({"handoffs": [], "returned": []}, index=pd.Index([], name=by))
    grouped = frame.groupby(by).agg(handoffs=("session_id", "size"), returned=("returned", "sum"))
    return grouped.sort_values("handoffs", ascending=False).head(top)


def response_times_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Median and p90 time to claim and to first human reply per day, in minutes."""
    columns = {
        "claim median": ("time_to_claim_s", 0.5),
        "claim p90": ("time_to_claim_s", 0.9),
        "first reply median": ("time_to_first_reply_s", 0.5),
        "first reply p90": ("time_to_first_reply_s", 0.9),
    }
    if frame.empty:
        return pd.DataFrame(columns=list(columns), index=pd.DatetimeIndex([], name="day"))
    by_day = frame.groupby("day")
    return pd.DataFrame(
        {name: by_day[column].quantile(q) / 60 for name, (column, q) in columns.items()}
    )


@dataclass(frozen=True)
class HandoffSummary:
    handoffs: int
    claim_median_s: float | None
    claim_p90_s: float | None
    reply_median_s: float | None
    reply_p90_s: float | None
    return_rate: float | None
    claim_breaches: int = 0
    first_reply_breaches: int = 0
    sessions: int = 0


def _quantile(series: pd.Series, q: float) -> float | None:
    values = series.dropna()
    return float(values.quantile(q)) if not values.empty else None


def handoff_summary(frame: pd.DataFrame) -> HandoffSummary:
    return HandoffSummary(
        # Every handoff, a session handed off again after a return counted each time.
        handoffs=int(frame["handoffs"].sum()),
        sessions=len(frame),
        claim_median_s=_quantile(frame["time_to_claim_s"], 0.5),
        claim_p90_s=_quantile(frame["time_to_claim_s"], 0.9),
        reply_median_s=_quantile(frame["time_to_first_reply_s"], 0.5),
        reply_p90_s=_quantile(frame["time_to_first_reply_s"], 0.9),
        return_rate=float(frame["returned"].mean()) if len(frame) else None,
        claim_breaches=int(frame["claim_breached"].sum()),
        first_reply_breaches=int(frame["first_reply_breached"].sum()),
    )


def format_duration(seconds: float | None) -> str:
    return "–" if seconds is None else format_age(seconds)
