"""The chaos run's checker: a pure function of the recorded history and the final state.

The harness (tests/support/chaos.py) records what the system acknowledged while replicas were
killed and restarted, then reads what Slack shows and what Parlant holds; `check` says what
went wrong. No I/O here, so the unit tests (tests/test_chaos_check.py) feed it hand-made
histories that break each property, and `scripts/chaos.py` prints its verdicts as a table.

The properties (issue 25):

- every acknowledged customer message written after the handoff is mirrored exactly once, into
  its own session's thread, in the order of the session's offsets;
- every operator reply Slack accepted is delivered to Parlant exactly once, in Slack's order
  (`ts`) within its session;
- one root message per escalation;
- no customer request failed, except a POST in flight when a process it depended on was
  disrupted (a replica killed, the database restarted or its connections cut): HAProxy never
  re-sends a POST that reached a replica, the client decides (docs/replicas.md);
- every customer message written while the AI answers is followed by an AI message (or by a
  person's, when the AI's turn handed the session over and died before its own message);
- a killed bridge's sessions held again (taken over) within the bound: the lease plus one
  discovery pass (docs/replicas.md). The worst mirror delay is reported beside it, not
  checked: it includes the channel's pace, one post a second shared by every thread.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# A POST sent up to this long after a disruption may still reach the dead process: HAProxy
# takes a killed replica out after 2 failed checks 500 ms apart, and a request already on a
# kept-alive connection to it fails.
IN_FLIGHT_WINDOW_S = 2.0


@dataclass(frozen=True)
class CustomerWrite:
    """One customer message POST: acknowledged (event id and offset) or failed (error)."""

    session_id: str
    text: str
    sent_at: float
    answered_at: float
    event_id: str | None = None
    offset: int | None = None
    error: str | None = None
    # Written once a person had the session: it belongs in the thread.
    mirrored: bool = False
    # Written while the AI answers: an AI message must follow it.
    expects_ai: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.error is None and self.event_id is not None


@dataclass(frozen=True)
class CustomerRequest:
    """Any other customer request (opening a session, reading the conversation)."""

    method: str
    what: str
    sent_at: float
    answered_at: float
    error: str | None = None


@dataclass(frozen=True)
class OperatorReply:
    """A thread reply Slack accepted from an operator's client."""

    session_id: str
    slack_ts: str
    text: str


@dataclass(frozen=True)
class Disruption:
    at: float
    what: str  # "kill agent-a", "kill bridge-b", "restart postgres", "cut connections"
    kind: str  # "agent", "bridge", "postgres"


@dataclass(frozen=True)
class Takeover:
    """A bridge killed while holding leases: how long until every one of its sessions was
    held again (by a survivor, or by itself restarted under its name); None if never."""

    at: float
    what: str
    sessions: int
    seconds: float | None


@dataclass
class History:
    writes: list[CustomerWrite] = field(default_factory=list)
    requests: list[CustomerRequest] = field(default_factory=list)
    replies: list[OperatorReply] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)  # sessions handed to a person
    disruptions: list[Disruption] = field(default_factory=list)
    # (start, end): no bridge running, or the database down; a mirror's clock stops in them.
    outages: list[tuple[float, float]] = field(default_factory=list)
    takeovers: list[Takeover] = field(default_factory=list)


@dataclass(frozen=True)
class ThreadPost:
    """A post in an escalation's thread as Slack shows it at the end."""

    ts: str
    event_ids: tuple[str, ...]  # the Parlant events it carries (several when coalesced)
    posted_at: float  # when Slack accepted it


@dataclass(frozen=True)
class ParlantEvent:
    session_id: str
    offset: int
    event_id: str
    kind: str
    source: str
    slack_ts: str | None = None  # an operator reply's Slack ts
    stored_at: float = 0.0


@dataclass
class FinalState:
    roots: dict[str, list[str]] = field(default_factory=dict)  # session -> its root posts' ts
    threads: dict[str, list[ThreadPost]] = field(default_factory=dict)  # root ts -> its posts
    events: dict[str, list[ParlantEvent]] = field(default_factory=dict)  # session -> events


@dataclass
class Verdict:
    acknowledged: int = 0
    replies: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    replies_lost: list[str] = field(default_factory=list)
    replies_duplicated: list[str] = field(default_factory=list)
    replies_out_of_order: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    unanswered_turns: list[str] = field(default_factory=list)
    takeover_s: float | None = None  # the slowest takeover of a killed bridge's sessions
    takeover_bound_s: float = 0.0
    never_taken_over: list[str] = field(default_factory=list)
    # The slowest customer message from stored to Slack (outages excepted): the takeover, but
    # also the channel's pace (about one post a second shared by every thread in it).
    worst_mirror_s: float | None = None

    @property
    def takeover_over_bound(self) -> bool:
        return self.takeover_s is not None and self.takeover_s > self.takeover_bound_s

    def problems(self) -> list[str]:
        found = [
            *(f"customer message lost: {p}" for p in self.lost),
            *(f"customer message duplicated: {p}" for p in self.duplicated),
            *(f"customer message out of order: {p}" for p in self.out_of_order),
            *(f"operator reply lost: {p}" for p in self.replies_lost),
            *(f"operator reply duplicated: {p}" for p in self.replies_duplicated),
            *(f"operator reply out of order: {p}" for p in self.replies_out_of_order),
            *(f"root messages: {p}" for p in self.roots),
            *(f"customer request failed: {p}" for p in self.failed_requests),
            *(f"AI turn unanswered: {p}" for p in self.unanswered_turns),
        ]
        found += [f"sessions never taken over: {p}" for p in self.never_taken_over]
        if self.takeover_over_bound:
            found.append(
                f"takeover {self.takeover_s:.2f}s over the bound {self.takeover_bound_s:g}s"
            )
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def check(history: History, final: FinalState, takeover_bound_s: float) -> Verdict:
    verdict = Verdict(takeover_bound_s=takeover_bound_s)
    _customer_messages(history, final, verdict)
    _operator_replies(history, final, verdict)
    _roots(history, final, verdict)
    _failed_requests(history, verdict)
    _ai_turns(history, final, verdict)
    _delays(history, final, verdict)
    return verdict


def _where_posted(final: FinalState) -> dict[str, list[tuple[str, ThreadPost]]]:
    """Event id -> every (root ts, post) carrying it."""
    found: dict[str, list[tuple[str, ThreadPost]]] = {}
    for root_ts, posts in final.threads.items():
        for post in posts:
            for event_id in dict.fromkeys(post.event_ids):
                found.setdefault(event_id, []).append((root_ts, post))
    return found


def _customer_messages(history: History, final: FinalState, verdict: Verdict) -> None:
    posted = _where_posted(final)
    expected = [w for w in history.writes if w.acknowledged and w.mirrored]
    verdict.acknowledged = sum(w.acknowledged for w in history.writes)
    by_session: dict[str, list[CustomerWrite]] = {}
    for write in expected:
        by_session.setdefault(write.session_id, []).append(write)
    for session_id, writes in by_session.items():
        own = set(final.roots.get(session_id, []))
        shown: list[tuple[float, int, CustomerWrite]] = []
        for write in sorted(writes, key=lambda w: w.offset or 0):
            assert write.event_id is not None
            places = posted.get(write.event_id, [])
            mine = [post for root_ts, post in places if root_ts in own]
            label = f"{write.text!r} (session {session_id}, offset {write.offset})"
            if not mine:
                elsewhere = " (posted in another session's thread)" if places else ""
                verdict.lost.append(label + elsewhere)
                continue
            if len(places) > 1:
                verdict.duplicated.append(f"{label} in {len(places)} posts")
            post = min(mine, key=lambda p: float(p.ts))
            shown.append((float(post.ts), post.event_ids.index(write.event_id), write))
        for (ts_a, part_a, a), (ts_b, part_b, b) in itertools.pairwise(shown):
            if (ts_b, part_b) < (ts_a, part_a):
                verdict.out_of_order.append(f"{b.text!r} shown before {a.text!r}")


def _operator_replies(history: History, final: FinalState, verdict: Verdict) -> None:
    verdict.replies = len(history.replies)
    for session_id, replies in _grouped(history.replies, lambda r: r.session_id).items():
        stored = [
            e.slack_ts
            for e in sorted(final.events.get(session_id, []), key=lambda e: e.offset)
            if e.kind == "message" and e.source == "human_agent" and e.slack_ts
        ]
        counts = Counter(stored)
        for reply in replies:
            label = f"{reply.text!r} (session {session_id}, ts {reply.slack_ts})"
            if counts[reply.slack_ts] == 0:
                verdict.replies_lost.append(label)
            elif counts[reply.slack_ts] > 1:
                verdict.replies_duplicated.append(f"{label} {counts[reply.slack_ts]} times")
        accepted = {r.slack_ts for r in replies}
        order = [ts for ts in dict.fromkeys(stored) if ts in accepted]
        verdict.replies_out_of_order += [
            f"ts {b} delivered after ts {a} (session {session_id})"
            for a, b in itertools.pairwise(order)
            if float(b) < float(a)
        ]


def _roots(history: History, final: FinalState, verdict: Verdict) -> None:
    for session_id in dict.fromkeys(history.escalations):
        count = len(final.roots.get(session_id, []))
        if count != 1:
            verdict.roots.append(f"session {session_id} has {count} root messages")


def _failed_requests(history: History, verdict: Verdict) -> None:
    requests: Iterable[tuple[str, str, float, float, str | None]] = itertools.chain(
        (
            ("POST", f"message {w.text!r}", w.sent_at, w.answered_at, w.error)
            for w in history.writes
        ),
        ((r.method, r.what, r.sent_at, r.answered_at, r.error) for r in history.requests),
    )
    for method, what, sent_at, answered_at, error in requests:
        if error is None:
            continue
        in_flight = method == "POST" and any(
            sent_at - IN_FLIGHT_WINDOW_S <= d.at <= answered_at
            for d in history.disruptions
            if d.kind in ("agent", "postgres")
        )
        if not in_flight:
            verdict.failed_requests.append(f"{method} {what}: {error}")


def _ai_turns(history: History, final: FinalState, verdict: Verdict) -> None:
    for write in history.writes:
        if not (write.acknowledged and write.expects_ai):
            continue
        # The AI answers, or, when its turn handed the session over, a person does.
        answered = any(
            e.kind == "message"
            and e.source in ("ai_agent", "human_agent")
            and e.offset > (write.offset or 0)
            for e in final.events.get(write.session_id, [])
        )
        if not answered:
            verdict.unanswered_turns.append(
                f"{write.text!r} (session {write.session_id}, offset {write.offset})"
            )


def _clock_start(stored_at: float, outages: Sequence[tuple[float, float]]) -> float:
    """When a mirror could have started on a message: once no outage holds it up."""
    start = stored_at
    for begin, end in sorted(outages):
        if begin <= start < end:
            start = end
    return start


def _delays(history: History, final: FinalState, verdict: Verdict) -> None:
    posted = _where_posted(final)
    stored_at = {e.event_id: e.stored_at for events in final.events.values() for e in events}
    worst: list[float] = []
    for write in history.writes:
        if not (write.acknowledged and write.mirrored) or write.event_id not in posted:
            continue
        assert write.event_id is not None
        start = _clock_start(stored_at.get(write.event_id, write.answered_at), history.outages)
        worst.append(min(post.posted_at for _, post in posted[write.event_id]) - start)
    verdict.worst_mirror_s = max(worst, default=None)
    timed = [t.seconds for t in history.takeovers if t.seconds is not None]
    verdict.takeover_s = max(timed, default=None)
    verdict.never_taken_over = [
        f"{t.sessions} of {t.what}" for t in history.takeovers if t.seconds is None
    ]


def _grouped(
    items: Iterable[OperatorReply], key: Callable[[OperatorReply], str]
) -> dict[str, list[OperatorReply]]:
    out: dict[str, list[OperatorReply]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


TABLE_HEADER = [
    "seed",
    "acknowledged",
    "lost",
    "duplicated",
    "out of order",
    "replies",
    "replies lost",
    "replies twice",
    "replies out of order",
    "roots wrong",
    "failed requests",
    "unanswered turns",
    "takeover s",
    "worst mirror s",
    "disruptions",
]


def table_row(seed: int, verdict: Verdict, disruptions: int) -> list[str]:
    takeover = "-" if verdict.takeover_s is None else f"{verdict.takeover_s:.2f}"
    if verdict.takeover_over_bound:
        takeover += " (over)"
    if verdict.never_taken_over:
        takeover += " (never)"
    mirror = "-" if verdict.worst_mirror_s is None else f"{verdict.worst_mirror_s:.1f}"
    return [
        str(seed),
        str(verdict.acknowledged),
        str(len(verdict.lost)),
        str(len(verdict.duplicated)),
        str(len(verdict.out_of_order)),
        str(verdict.replies),
        str(len(verdict.replies_lost)),
        str(len(verdict.replies_duplicated)),
        str(len(verdict.replies_out_of_order)),
        str(len(verdict.roots)),
        str(len(verdict.failed_requests)),
        str(len(verdict.unanswered_turns)),
        takeover,
        mirror,
        str(disruptions),
    ]


def totals_row(rows: Sequence[Sequence[str]]) -> list[str]:
    """Pure: the table's last row over several seeds: counts added up; the takeover and the
    worst mirror delay, the worst of any seed (marked as its seed's cell is)."""
    total = ["total"]
    for column in range(1, len(TABLE_HEADER)):
        cells = [row[column] for row in rows]
        if TABLE_HEADER[column] in ("takeover s", "worst mirror s"):
            timed = [(float(c.split()[0]), c) for c in cells if c.split()[0] != "-"]
            total.append(max(timed)[1] if timed else "-")
        else:
            total.append(str(sum(int(c) for c in cells)))
    return total


def format_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [TABLE_HEADER, *rows]) for i in range(len(TABLE_HEADER))]
    lines = [
        " | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [TABLE_HEADER, *rows]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
