"""The learning page's groups and the insights page's before and after (dashboard/learning.py):
pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from dashboard import learning
from dashboard.model import Escalation
from handoff.learned import Person, proposal
from handoff.learning import Why
from handoff.record import HandoffRecord

HANDOFF = "The customer asks to speak with a human"
COMPLAINT = "The customer makes a formal complaint"
CLAIM = "File an Insurance Claim"


def escalation(
    session: str,
    why: str | None,
    guideline: str | None = HANDOFF,
    journey: str | None = None,
    requested_at: str = "2026-11-20T10:00:00+00:00",
    **record: Any,
) -> Escalation:
    full: dict[str, Any] = {
        "status": "resolved",
        "reason_category": "customer_asked",
        "requested_at": requested_at,
        "resolved_at": requested_at,
        "resolved_by": {"id": "slack:U1", "name": "Dana"},
        "packet": {
            "journey": {"title": journey, "step": "ask"} if journey else None,
            "guidelines": [{"condition": guideline, "action": "hand off"}] if guideline else [],
            "tool_calls": [],
        },
        **record,
    }
    if why:
        full["learning"] = {
            "why": why,
            "answer": f"answer for {session}",
            "by": {"id": "slack:U2", "name": "Lee"},
            "at": requested_at,
        }
    return Escalation(
        session, "cust", "auto", datetime(2026, 11, 1, tzinfo=UTC), cast(HandoffRecord, full)
    )


def test_tagged_handoffs_are_grouped_by_guideline_journey_and_category() -> None:
    escalations = [
        escalation("a", "missing_knowledge", journey=CLAIM),
        escalation("b", "missing_knowledge", journey=CLAIM),
        escalation("c", "ai_mistake", journey=CLAIM),
        escalation("d", "missing_knowledge", guideline=COMPLAINT, reason_category="complaint"),
        escalation("e", "missing_knowledge", guideline=None),
        escalation("f", None),  # resolved without a tag
        escalation("g", "missing_knowledge", status="claimed"),  # taken over again since
    ]
    rows = learning.tagged(escalations)
    assert {r.session_id for r in rows} == {"a", "b", "c", "d", "e"}
    assert rows[0].operator == "Lee"
    groups = learning.groups(rows)
    assert [(g.guideline, g.journey, g.category, len(g.handoffs)) for g in groups] == [
        (HANDOFF, CLAIM, "customer asked", 3),
        (learning.NO_GUIDELINE, learning.NO_JOURNEY, "customer asked", 1),
        (COMPLAINT, learning.NO_JOURNEY, "complaint", 1),
    ]
    # An observation matched first: the handoff is grouped under the guideline that acted.
    observed = escalation("h", "other")
    observed.record["packet"]["guidelines"].insert(
        0, {"condition": "Mentions a claim", "action": ""}
    )
    assert learning.tagged([observed])[0].guideline == HANDOFF
    only_mistakes = learning.groups(rows, [Why.AI_MISTAKE])
    assert [[t.session_id for t in g.handoffs] for g in only_mistakes] == [["c"]]
    frame = learning.group_frame(groups[0], lambda s: f"http://d/session?session={s}")
    assert frame["session"].tolist()[0].startswith("http://d/session?session=")
    assert set(frame["why"]) == {"Missing knowledge", "AI mistake"}


def test_a_proposal_carries_its_group_and_sessions() -> None:
    # Groups of one size come in title order: "(no guideline)" first.
    [no_guideline, group] = learning.groups(
        learning.tagged(
            [escalation("a", "other", journey=CLAIM), escalation("b", "other", guideline=None)]
        )
    )
    body = learning.proposal_body(
        group,
        ["a"],
        {"kind": "guideline", "condition": "c", "action": "a"},
        {"id": "dashboard:sam", "name": "Sam"},
    )
    entry = proposal(body, "p1", "2026-12-01T00:00:00+00:00")
    assert (entry.origin.guideline, entry.origin.journey) == (HANDOFF, CLAIM)
    assert entry.origin.sessions == ("a",)
    assert learning.proposal_body(no_guideline, ["b"], {}, {})["group_guideline"] == ""
    assert learning.lines(" one \n\n two\n") == ["one", "two"]


def test_handoffs_per_week_before_and_after_an_accepted_change() -> None:
    accepted_at = "2026-11-18T12:00:00+00:00"  # a Wednesday
    entry = proposal(
        {
            "kind": "guideline",
            "condition": "roadside",
            "action": "say so",
            "sessions": ["a"],
            "proposed_by": {"id": "dashboard:sam", "name": "Sam"},
            "group_guideline": HANDOFF,
            "group_journey": CLAIM,
        },
        "p1",
        "2026-11-18T00:00:00+00:00",
    ).decided("accepted", Person("dashboard:lee", "Lee"), accepted_at)
    escalations = [
        # Two weeks before: 3 handoffs under the guideline, 1 of them in the journey.
        escalation("a", None, journey=CLAIM, requested_at="2026-11-04T09:00:00+00:00"),
        escalation("b", None, requested_at="2026-11-05T09:00:00+00:00"),
        escalation("c", None, requested_at="2026-11-11T09:00:00+00:00"),
        # The week of the change, before and after it.
        escalation("d", None, requested_at="2026-11-18T09:00:00+00:00"),
        escalation("e", None, requested_at="2026-11-19T09:00:00+00:00"),
        # Another guideline: not counted.
        escalation("f", None, guideline=COMPLAINT, requested_at="2026-11-19T09:00:00+00:00"),
    ]
    weeks = learning.weekly(escalations, entry, today=date(2026, 11, 30))
    handoff_column = f"guideline: {HANDOFF}"
    assert weeks[["week", "period", handoff_column, f"journey: {CLAIM}"]].values.tolist() == [
        [date(2026, 11, 2), "before", 2, 1],
        [date(2026, 11, 9), "before", 1, 0],
        [date(2026, 11, 16), "before", 1, 0],
        [date(2026, 11, 16), "after", 1, 0],
        [date(2026, 11, 23), "after", 0, 0],
        [date(2026, 11, 30), "after", 0, 0],
    ]
    table = learning.before_after(escalations, [entry], today=date(2026, 11, 30))
    row = table[table["handoffs with"] == handoff_column].iloc[0]
    assert (row["before, per week"], row["weeks before"]) == (round(4 / 3, 2), 3)
    assert (row["after, per week"], row["weeks after"]) == (round(1 / 3, 2), 3)
    assert row["change"] == "roadside"
    # A proposal still waiting has no after.
    waiting = proposal(
        {
            "kind": "term",
            "name": "T",
            "description": "D",
            "sessions": ["a"],
            "proposed_by": {"id": "x", "name": "X"},
            "group_guideline": HANDOFF,
        },
        "p2",
        "",
    )
    assert learning.before_after(escalations, [waiting], today=date(2026, 11, 30)).empty
