"""The copilot's figures on the insights page: drafts offered, sent as is, edited and dismissed
per week and per operator, and `ai:` replies the agent held per rule and week, with how many
were then sent anyway or edited. Pure: from the events of the sessions labelled `copilot`
(handoff/copilot_events.py) to tables.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd  # type: ignore[import-untyped]

from dashboard.model import RawEvent
from handoff.copilot_events import DRAFT_OFFERED, read_draft_outcome, read_held

OUTCOME_COLUMNS = {"sent": "sent as is", "edited": "edited", "dismissed": "dismissed"}
DRAFT_COLUMNS = ["offered", *OUTCOME_COLUMNS.values()]
HOLD_COLUMNS = ["held", "sent anyway", "edited", "not sent"]
AS_AI = "human_agent_on_behalf_of_ai_agent"


def monday(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class DraftStep:
    """A draft offered (`offered`, nobody yet) or decided (`sent`, `edited`, `dismissed`)."""

    session_id: str
    step: str
    at: datetime
    operator: str


@dataclass(frozen=True)
class Hold:
    """An `ai:` reply the agent held, and what became of it: `sent anyway`, `edited` (the
    operator's next reply of the same origin went through without an override) or `not sent`."""

    session_id: str
    rule: str
    at: datetime
    operator: str
    then: str


def _data(event: RawEvent) -> Mapping[str, object]:
    return event.data if isinstance(event.data, Mapping) else {}


def _person(value: object) -> str:
    person = value if isinstance(value, Mapping) else {}
    return str(person.get("name") or person.get("id") or "–")


def draft_steps(session_id: str, events: Iterable[RawEvent]) -> list[DraftStep]:
    steps = []
    for event in events:
        if event.kind != "custom":
            continue
        if _data(event).get("type") == DRAFT_OFFERED:
            steps.append(DraftStep(session_id, "offered", event.created, "–"))
            continue
        outcome = read_draft_outcome(event.metadata)
        if outcome is not None:
            who = _person(event.metadata.get("operator") or _data(event).get("operator"))
            steps.append(DraftStep(session_id, outcome, event.created, who))
    return steps


def _origin(metadata: Mapping[str, object]) -> str | None:
    slack = metadata.get("slack")
    if not isinstance(slack, Mapping) or not slack.get("channel") or not slack.get("ts"):
        return None
    return f"slack:{slack['channel']}:{slack['ts']}"


def _operator_id(metadata: Mapping[str, object]) -> str:
    operator = metadata.get("operator")
    return str(operator.get("id") or "") if isinstance(operator, Mapping) else ""


def holds(session_id: str, events: Sequence[RawEvent]) -> list[Hold]:
    """The session's held replies, one per reply and rule (a reply POSTed again, or edited and
    held again by the same rule, is one hold). What became of each: the first `ai` message
    after it from the same origin (Slack's channel and ts), or, from the dashboard, which has
    none, by the same operator."""
    ordered = sorted(events, key=lambda e: e.offset)
    found: list[Hold] = []
    seen: set[tuple[str, str]] = set()
    for index, event in enumerate(ordered):
        held = read_held(_data(event)) if event.kind == "custom" else None
        if held is None:
            continue
        reply = held.key or f"operator:{held.operator_id}:{event.offset}"
        if (reply, held.rule) in seen:
            continue
        seen.add((reply, held.rule))
        then = "not sent"
        for later in ordered[index + 1 :]:
            if later.kind != "message" or later.source != AS_AI:
                continue
            same = (
                _origin(later.metadata) == held.key
                if held.key
                else _origin(later.metadata) is None
                and _operator_id(later.metadata) == held.operator_id
            )
            if same:
                overridden = later.metadata.get("sent_despite_rule") == held.rule
                then = "sent anyway" if overridden else "edited"
                break
        found.append(Hold(session_id, held.rule, event.created, held.operator_name, then))
    return found


def drafts_per_week(steps: Iterable[DraftStep]) -> pd.DataFrame:
    """Drafts offered, sent as is, edited and dismissed per week (its Monday)."""
    return _counts(
        (
            (monday(s.at), "offered" if s.step == "offered" else OUTCOME_COLUMNS[s.step])
            for s in steps
        ),
        "week",
        DRAFT_COLUMNS,
    )


def drafts_per_operator(steps: Iterable[DraftStep]) -> pd.DataFrame:
    """What each operator did with the drafts (an offer has no operator yet)."""
    return _counts(
        ((s.operator, OUTCOME_COLUMNS[s.step]) for s in steps if s.step != "offered"),
        "operator",
        list(OUTCOME_COLUMNS.values()),
    )


def holds_per_rule(rows: Iterable[Hold]) -> pd.DataFrame:
    """Replies held per rule, and how many were then sent anyway, edited or not sent."""
    return _hold_counts(rows, lambda h: h.rule, "rule")


def holds_per_week(rows: Iterable[Hold]) -> pd.DataFrame:
    """Replies held per week and rule (rows `(week, rule)`), with what became of them."""
    return _hold_counts(rows, lambda h: (monday(h.at), h.rule), ["week", "rule"])


def _hold_counts(
    rows: Iterable[Hold], key: Callable[[Hold], Hashable], index: str | list[str]
) -> pd.DataFrame:
    pairs: list[tuple[Hashable, str]] = []
    for row in rows:
        pairs.append((key(row), "held"))
        pairs.append((key(row), row.then))
    return _counts(pairs, index, HOLD_COLUMNS)


def _counts(
    pairs: Iterable[tuple[Hashable, str]], index: str | list[str], columns: list[str]
) -> pd.DataFrame:
    names = [index] if isinstance(index, str) else index
    rows = [
        {**dict(zip(names, key if isinstance(key, tuple) else (key,), strict=True)), "column": c}
        for key, c in pairs
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    table = frame.groupby([*names, "column"]).size().unstack("column", fill_value=0)
    return table.reindex(columns=columns, fill_value=0).sort_index().astype(int)
