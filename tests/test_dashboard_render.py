"""The dashboard's pure functions: queue rows, filters, transcript labels, exports, metrics."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import cast

import pytest

from config import EnvReader, SettingsError
from dashboard import identity, operate
from dashboard.__main__ import streamlit_argv
from dashboard.auth import password_matches
from dashboard.formats import escape_markdown, format_age, format_time
from dashboard.handoff_figures import (
    HandoffSummary,
    breaches_per_day,
    breaches_per_reason,
    handoff_frame,
    handoff_summary,
    handoffs_per_day,
    handoffs_per_reason,
    response_times_per_day,
)
from dashboard.model import Escalation, RawEvent
from dashboard.packet_summary import packet_summary, sentence_inside
from dashboard.queue_rows import (
    QueueFilter,
    filter_choices,
    filter_rows,
    queue_csv,
    queue_frame,
    queue_rows,
    sla_counts,
    slack_backlog_lines,
    status_counts,
)
from dashboard.settings import DashboardSettings
from dashboard.sla_badges import sla_lines
from dashboard.timeline import timeline, timeline_frame
from dashboard.transcript import (
    Role,
    ToolCallView,
    latest_handback,
    transcript_entries,
    transcript_json,
    transcript_markdown,
    transcript_matches,
    visible_window,
)
from handoff.copilot_events import HeldReply, draft_offered_data
from handoff.record import HandoffNotActive, HandoffRecord
from handoff.sla import SlaSettings

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script> **bold** [bank](https://evil) <!channel>"


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def escalation(session_id: str, **record: object) -> Escalation:
    return Escalation(
        session_id,
        f"cust-{session_id}",
        "manual",
        NOW - timedelta(days=1),
        cast(HandoffRecord, record),
    )


def link(session_id: str) -> str:
    return f"http://dash/session?session={session_id}"


QUEUE = [
    escalation("new", status="waiting", reason="billing", requested_at=at(2)),
    escalation("old", status="waiting", reason="angry", requested_at=at(40)),
    escalation(
        "mine",
        status="claimed",
        reason="billing",
        requested_at=at(90),
        claimed_by={"id": "dashboard:dana", "name": "Dana"},
        claimed_at=at(80),
        slack={"state": "posted", "permalink": "https://slack.example/p1"},
    ),
    escalation(
        "done",
        status="resolved",
        reason="angry",
        requested_at=at(60 * 30),
        slack={"state": "posted", "permalink": "javascript:alert(1)"},
    ),
]


def test_queue_puts_the_longest_waiting_first_then_claimed_then_closed() -> None:
    rows = queue_rows(QUEUE, NOW, link)

    assert [r.session_id for r in rows] == ["old", "new", "mine", "done"]
    mine = rows[2]
    assert (mine.assignee, mine.slack_url, mine.session_url) == (
        "Dana",
        "https://slack.example/p1",
        link("mine"),
    )
    assert format_age(rows[0].age_seconds) == "40 min"
    assert rows[3].slack_url is None  # only http(s) permalinks become links


def test_filters_combine_status_reason_operator_date_and_search_hits() -> None:
    rows = queue_rows(QUEUE, NOW, link)

    def ids(chosen: QueueFilter) -> list[str]:
        return [r.session_id for r in filter_rows(rows, chosen)]

    assert ids(QueueFilter(statuses=frozenset({"waiting"}))) == ["old", "new"]
    assert ids(QueueFilter(reasons=frozenset({"billing"}))) == ["new", "mine"]
    assert ids(QueueFilter(operators=frozenset({"Dana"}))) == ["mine"]
    assert ids(QueueFilter(since=date(2026, 3, 10))) == ["old", "new", "mine"]
    assert ids(QueueFilter(until=date(2026, 3, 9))) == ["done"]
    assert ids(QueueFilter(matching_sessions=frozenset({"new", "done"}))) == ["new", "done"]
    assert filter_choices(rows) == (["angry", "billing"], ["Dana"])
    assert status_counts(rows) == {"waiting": 2, "claimed": 1, "returned": 0, "resolved": 1}


def test_csv_export_has_every_row_and_defuses_spreadsheet_formulas() -> None:
    queue = [
        *QUEUE,
        escalation("evil", status="waiting", reason='=HYPERLINK("x")', requested_at=at(1)),
    ]
    exported = queue_csv(queue_rows(queue, NOW, link))

    table = list(csv.DictReader(io.StringIO(exported)))
    assert [r["session_id"] for r in table] == ["old", "new", "evil", "mine", "done"]
    assert table[0]["waiting_seconds"] == str(40 * 60)
    assert table[3]["slack_url"] == "https://slack.example/p1"
    assert table[2]["reason"] == '\'=HYPERLINK("x")'


def test_the_queue_leads_with_the_link_and_names_customers() -> None:
    queue = [
        *QUEUE,
        Escalation("g1", "guest-0782f9ab", "manual", NOW, HandoffRecord(status="waiting")),
        Escalation("g2", "guest", "manual", NOW, HandoffRecord(status="waiting")),
    ]
    names = {"cust-new": "Avery Quinn", "cust-guest-0782f9ab": "not this"}
    rows = queue_rows(queue, NOW, link, customer_names=names)
    frame = queue_frame(rows)

    assert list(frame.columns)[:2] == ["session", "customer"]
    by_id = dict(zip(frame["session id"], frame["customer"], strict=True))
    # A name when Parlant has one, "Guest" for guests, the id when no name could be read.
    assert (by_id["new"], by_id["g1"], by_id["g2"], by_id["old"]) == (
        "Avery Quinn",
        "Guest",
        "Guest",
        "cust-old",
    )


def test_waiting_time_only_while_someone_waits() -> None:
    frame = queue_frame(queue_rows(QUEUE, NOW, link))
    waiting = dict(zip(frame["session id"], frame["waiting for"], strict=True))
    assert (waiting["old"], waiting["mine"], waiting["done"]) == ("40 min", "1 h 30 min", "")
    table = {
        r["session_id"]: r
        for r in csv.DictReader(io.StringIO(queue_csv(queue_rows(QUEUE, NOW, link))))
    }
    assert (table["mine"]["waiting_seconds"], table["done"]["waiting_seconds"]) == ("5400", "")


def test_csv_export_has_the_category_and_the_dashboards_one_time_format() -> None:
    queue = [escalation("c", status="waiting", reason_category="complaint", requested_at=at(2))]
    (row,) = csv.DictReader(io.StringIO(queue_csv(queue_rows(queue, NOW, link))))
    assert row["category"] == "complaint"
    assert row["requested_at"] == "2026-03-10 11:58 UTC" == format_time(NOW - timedelta(minutes=2))


def test_transcript_search_matches_every_word_in_any_order() -> None:
    assert transcript_matches("My car was hit at the Mall", "mall car")
    assert not transcript_matches("My car was hit", "car boat")


def event(offset: int, source: str, kind: str, data: object, **metadata: object) -> RawEvent:
    return RawEvent(offset, source, kind, NOW + timedelta(seconds=offset), data, metadata)


LEE = {"id": "dashboard:lee", "name": "Lee", "origin": "dashboard"}
EVENTS = [
    event(0, "customer", "message", {"message": HOSTILE}),
    event(1, "ai_agent", "status", {"status": "typing"}),
    event(
        2,
        "ai_agent",
        "tool",
        {
            "tool_calls": [
                {
                    "tool_id": "plugin:file_claim",
                    "arguments": {"claim_details": "dent"},
                    "result": {"data": {"filed": True}},
                }
            ]
        },
    ),
    event(3, "ai_agent", "message", {"message": "Filed."}),
    event(
        4,
        "human_agent",
        "message",
        {"message": "Dana here", "participant": {"id": "slack:U1", "display_name": "Dana"}},
    ),
    event(
        5, "human_agent_on_behalf_of_ai_agent", "message", {"message": "As the AI"}, operator=LEE
    ),
    event(6, "human_agent", "custom", {"type": "internal_note", "text": "VIP", "operator": LEE}),
    event(
        7,
        "system",
        "custom",
        {"type": "handback", "text": "...", "note": "sorted", "operator": LEE},
    ),
]


def test_transcript_labels_each_source_and_skips_status_events() -> None:
    entries = transcript_entries(EVENTS)

    assert [(e.role, e.label) for e in entries] == [
        (Role.CUSTOMER, "Customer"),
        (Role.TOOL, "Tool calls"),
        (Role.AI, "AI agent"),
        (Role.HUMAN, "Dana (human operator)"),
        (Role.HUMAN_AS_AI, "AI agent, written by Lee"),
        (Role.NOTE, "Internal note by Lee (not shown to the customer)"),
        (Role.HANDBACK, "Handed back to the AI by Lee"),
    ]
    assert entries[0].text == HOSTILE
    assert entries[1].tool_calls == (
        ToolCallView("file_claim", {"claim_details": "dent"}, {"filed": True}),
    )
    assert entries[-1].text == "Handback note: sorted"


def test_escape_markdown_leaves_no_live_markup() -> None:
    escaped = escape_markdown(HOSTILE)

    for live in ("<script>", "**bold**", "[bank](", "<!channel>", "https://"):
        assert live not in escaped
    assert escaped.replace("\\", "") == HOSTILE


def test_visible_window_shows_the_newest_and_counts_the_rest() -> None:
    entries = transcript_entries(EVENTS)

    shown, hidden = visible_window(entries, 3)

    assert [e.offset for e in shown] == [5, 6, 7]
    assert hidden == 4
    assert visible_window(entries, 100) == (entries, 0)


def test_markdown_export_fences_untrusted_text_and_lists_the_timeline() -> None:
    record = HandoffRecord(
        status="claimed",
        reason="angry [x](y)",
        requested_at=at(5),
        claimed_at=at(3),
        claimed_by={"id": "d", "name": "Dana"},
    )
    sneaky = event(8, "customer", "message", {"message": "```\n# not a heading\n```"})

    exported = transcript_markdown("s1", record, transcript_entries([*EVENTS, sneaky]))

    assert "- Reason: angry \\[x\\]\\(y\\)" in exported
    # The dashboard's one time format, in the export too.
    assert "- Claimed: 2026-03-10 11:57 UTC by Dana" in exported
    assert "T11:" not in exported
    assert f"```\n{HOSTILE}\n```" in exported
    assert "````\n```\n# not a heading\n```\n````" in exported
    assert "### Dana \\(human operator\\)" in exported


def test_json_export_round_trips_the_events() -> None:
    exported = json.loads(transcript_json("s1", HandoffRecord(status="waiting"), EVENTS))

    assert exported["session_id"] == "s1"
    assert exported["handoff"] == {"status": "waiting"}
    assert [e["offset"] for e in exported["events"]] == list(range(8))
    assert exported["events"][5]["metadata"]["operator"]["name"] == "Lee"


def test_timeline_lists_what_happened_in_order() -> None:
    record = HandoffRecord(
        status="resolved",
        requested_at=at(30),
        claimed_at=at(20),
        claimed_by={"id": "d", "name": "Dana"},
        first_human_reply_at=at(19),
        first_human_reply_by={"id": "s", "name": "Sam"},
        resolved_at=at(1),
        resolved_by={"id": "l", "name": "Lee"},
    )

    steps = timeline(record)

    assert [(s.step, s.by) for s in steps] == [
        ("handed off", "AI agent"),
        ("claimed", "Dana"),
        ("first human reply", "Sam"),
        ("resolved", "Lee"),
    ]
    assert next(iter(timeline_frame(record)["at"])) == "2026-03-10 11:30 UTC"


def test_one_time_format_everywhere() -> None:
    assert format_time(NOW) == "2026-03-10 12:00 UTC"
    assert format_time(NOW.astimezone(timezone(timedelta(hours=2)))) == ("2026-03-10 12:00 UTC")
    assert format_time(None) == "–"


def test_guidelines_in_the_packet_read_as_one_sentence() -> None:
    assert sentence_inside("The customer asks for a person") == ("the customer asks for a person")
    assert sentence_inside("VIP customers ask") == "VIP customers ask"
    record = {
        "packet": {
            "journey": None,
            "guidelines": [{"condition": "The customer asks for a human", "action": "Hand off"}],
            "tool_calls": [],
        }
    }
    summary = packet_summary(record)
    assert summary is not None
    assert summary.guidelines == ("When the customer asks for a human → Hand off",)


def test_handoffs_count_per_reason_category() -> None:
    handoffs = [
        escalation("a", reason="wants a person", reason_category="customer_asked"),
        escalation("b", reason="asked for a human", reason_category="customer_asked"),
        escalation("c", reason="angry about fees", reason_category="complaint"),
        escalation("d", reason="old record without a category"),
        escalation("e", reason="garbage", reason_category="<script>"),
    ]
    frame = handoff_frame(handoffs)
    per_category = handoffs_per_reason(frame, by="category")
    assert per_category["handoffs"].to_dict() == {"customer asked": 2, "other": 2, "complaint": 1}
    rows = queue_rows(handoffs, NOW, link)
    assert sorted(queue_frame(rows)["category"]) == [
        "complaint",
        "customer asked",
        "customer asked",
        "other",
        "other",
    ]


def test_the_queue_has_no_none_for_a_missing_slack_thread() -> None:
    rows = queue_rows([escalation("s1", status="waiting", requested_at=at(3))], NOW, link)
    frame = queue_frame(rows)
    assert list(frame["slack"]) == [""]
    assert not frame.isna().any().any()


def test_the_latest_handback_is_the_one_shown() -> None:
    def handback(offset: int, note: str) -> RawEvent:
        return RawEvent(offset, "system", "custom", NOW, {"type": "handback", "note": note})

    entries = transcript_entries([handback(1, "old"), handback(2, "new")])
    latest = latest_handback(entries)
    assert latest is not None and latest.text == "Handback note: new"


def test_a_reassigned_handoff_keeps_its_first_claim_for_the_sla() -> None:
    record = HandoffRecord(
        status="claimed",
        requested_at=at(30),
        first_claimed_at=at(25),
        claimed_at=at(5),
        claimed_by={"id": "l", "name": "Lee"},
    )

    assert [(s.step, s.by) for s in timeline(record)] == [
        ("handed off", "AI agent"),
        ("claimed", ""),
        ("claimed again", "Lee"),
    ]
    frame = handoff_frame([Escalation("s", "c", "manual", NOW, record)])
    assert frame["time_to_claim_s"].tolist() == [300.0]


def test_metrics_per_day_per_reason_and_sla_quantiles() -> None:
    handoffs = [
        escalation(
            "a",
            status="claimed",
            reason="billing",
            requested_at="2026-03-08T10:00:00+00:00",
            claimed_at="2026-03-08T10:01:00+00:00",
            first_human_reply_at="2026-03-08T10:02:00+00:00",
        ),
        escalation(
            "b",
            status="returned",
            reason="billing",
            requested_at="2026-03-10T10:00:00+00:00",
            claimed_at="2026-03-10T10:03:00+00:00",
            returned_at="2026-03-10T10:30:00+00:00",
        ),
        # Handed off before, returned, and handed off again: two handoffs in one session.
        escalation(
            "c",
            status="waiting",
            reason="angry",
            requested_at="2026-03-10T11:00:00+00:00",
            handoffs=2,
        ),
    ]
    frame = handoff_frame(handoffs)

    per_day = handoffs_per_day(frame)
    assert per_day["handoffs"].tolist() == [1, 0, 2]  # the quiet day is shown as zero
    per_reason = handoffs_per_reason(frame)
    assert per_reason.loc["billing"].tolist() == [2, 1]
    summary = handoff_summary(frame)
    assert (summary.handoffs, summary.sessions) == (4, 3)
    assert (summary.claim_median_s, summary.reply_median_s) == (120.0, 120.0)
    assert summary.claim_p90_s == pytest.approx(168.0)
    assert summary.return_rate == pytest.approx(1 / 3)
    times = response_times_per_day(frame)
    assert times.loc["2026-03-10", "claim median"] == 3.0


def test_metrics_of_an_empty_queue_are_empty_not_errors() -> None:
    frame = handoff_frame([])

    assert handoffs_per_day(frame).empty
    assert handoffs_per_reason(frame).empty
    assert response_times_per_day(frame).empty
    assert handoff_summary(frame) == HandoffSummary(0, None, None, None, None, None)


def test_settings_defaults_and_bad_values() -> None:
    settings = DashboardSettings.from_env(EnvReader(environ={}, dotenv={}))
    assert (settings.parlant_url, settings.port, settings.public_url, settings.password) == (
        "http://127.0.0.1:8800",
        8501,
        "http://127.0.0.1:8501",
        None,
    )
    secret = DashboardSettings.from_env(
        EnvReader(
            environ={"DASHBOARD_PASSWORD": "hunter2-hunter2", "PARLANT_OPERATOR_TOKEN": "tok"},
            dotenv={},
        )
    )
    assert "hunter2" not in repr(secret) and "tok" not in repr(secret)
    with pytest.raises(SettingsError, match="DASHBOARD_PASSWORD must be at least 12"):
        DashboardSettings.from_env(EnvReader(environ={"DASHBOARD_PASSWORD": "hunter2"}, dotenv={}))
    with pytest.raises(SettingsError, match="DASHBOARD_PORT"):
        DashboardSettings.from_env(EnvReader(environ={"DASHBOARD_PORT": "web"}, dotenv={}))
    with pytest.raises(SettingsError, match="PARLANT_URL"):
        DashboardSettings.from_env(EnvReader(environ={"PARLANT_URL": "localhost:8800"}, dotenv={}))


def test_streamlit_is_started_headless_on_loopback_without_usage_stats() -> None:
    argv = " ".join(streamlit_argv(DashboardSettings("http://p", 8612, "http://d")))
    bound = " ".join(
        streamlit_argv(DashboardSettings("http://p", 8612, "http://d", host="0.0.0.0"))
    )
    assert "--server.address 0.0.0.0" in bound and "gated_app.py" in bound

    for flag in (
        "--server.headless true",
        "--server.address 127.0.0.1",
        "--server.port 8612",
        "--browser.gatherUsageStats false",
    ):
        assert flag in argv


def test_operator_identity_from_a_typed_name() -> None:
    operator = identity.operator_for("  Dana   O'Neil ")

    assert operator is not None
    assert (operator.id, operator.name, operator.origin) == (
        "dashboard:dana-o-neil",
        "Dana O'Neil",
        "dashboard",
    )
    assert identity.operator_for(" !! ") is None


def test_password_comparison() -> None:
    assert password_matches("s3cret", "s3cret")
    assert not password_matches("s3cre", "s3cret")


def test_action_errors_read_as_advice() -> None:
    assert "take it over first" in operate.explain(HandoffNotActive("s", "returned"))
    assert "never handed off" in operate.explain(HandoffNotActive("s", None))


# --- SLA ---------------------------------------------------------------------------------------

SLA_15_30 = SlaSettings.from_env(EnvReader(environ={}, dotenv={}))


def test_queue_marks_breached_and_due_soon_handoffs() -> None:
    queue = [
        escalation("fresh", status="waiting", reason="r", requested_at=at(2)),
        escalation("soon", status="waiting", reason="r", requested_at=at(13)),
        escalation("late", status="waiting", reason="r", requested_at=at(20)),
        escalation(
            "unanswered", status="claimed", reason="r", requested_at=at(40), first_claimed_at=at(38)
        ),
        escalation(
            "closed",
            status="resolved",
            reason="r",
            requested_at=at(60),
            first_claimed_at=at(59),
            first_human_reply_at=at(58),
            resolved_at=at(50),
        ),
    ]
    rows = {r.session_id: r for r in queue_rows(queue, NOW, link, SLA_15_30)}

    assert rows["fresh"].sla == "🟢 on time"
    assert rows["soon"].sla == "🟡 claim due soon"
    assert rows["late"].sla == "🔴 claim breached"
    assert rows["unanswered"].sla == "🔴 first reply breached"
    assert rows["closed"].sla == "🟢 on time"
    assert sla_counts(list(rows.values())) == {"breached": 2, "due_soon": 1}
    frame = queue_frame(list(rows.values()))
    assert frame.loc[frame["session id"] == "late", "SLA"].item() == "🔴 claim breached"
    table = list(csv.DictReader(io.StringIO(queue_csv(list(rows.values())))))
    assert {r["session_id"]: r["sla"] for r in table}["soon"] == "🟡 claim due soon"


def test_session_page_lines_show_both_clocks() -> None:
    record = HandoffRecord(status="claimed", requested_at=at(20), first_claimed_at=at(17))
    claim, reply = sla_lines(record, SLA_15_30, NOW)

    assert claim == "🟢 Claim: 3 min of 15 min, met (claimed)"
    assert reply.startswith("🟢 First reply: 20 min of 30 min, on time, running, due ")
    assert sla_lines(HandoffRecord(status="waiting"), SLA_15_30, NOW) == []


def test_breaches_per_day_and_per_reason() -> None:
    handoffs = [
        escalation(
            "a",
            status="claimed",
            reason="billing",
            requested_at="2026-03-08T10:00:00+00:00",
            first_claimed_at="2026-03-08T10:20:00+00:00",
            first_human_reply_at="2026-03-08T10:21:00+00:00",
        ),
        escalation(
            "b",
            status="resolved",
            reason="billing",
            requested_at="2026-03-10T10:00:00+00:00",
            first_claimed_at="2026-03-10T10:01:00+00:00",
            resolved_at="2026-03-10T11:00:00+00:00",
        ),
        escalation("c", status="waiting", reason="angry", requested_at="2026-03-10T11:00:00+00:00"),
        escalation(
            "d",
            status="claimed",
            reason="quiet",
            requested_at="2026-03-10T11:50:00+00:00",
            first_claimed_at="2026-03-10T11:51:00+00:00",
            first_human_reply_at="2026-03-10T11:52:00+00:00",
        ),
    ]
    frame = handoff_frame(handoffs, SLA_15_30, NOW)

    per_day = breaches_per_day(frame)
    assert per_day.loc["2026-03-08"].tolist() == [1, 0]
    assert per_day.loc["2026-03-09"].tolist() == [0, 0]  # a day without breaches is shown as zero
    assert per_day.loc["2026-03-10"].tolist() == [1, 2]
    per_reason = breaches_per_reason(frame)
    assert per_reason.to_dict(orient="index") == {
        "billing": {"claim": 1, "first reply": 1},
        "angry": {"claim": 1, "first reply": 1},
    }
    summary = handoff_summary(frame)
    assert (summary.claim_breaches, summary.first_reply_breaches) == (2, 2)
    assert breaches_per_day(handoff_frame([], SLA_15_30, NOW)).empty


def test_a_resolution_is_shown_with_who_resolved() -> None:
    [entry] = transcript_entries(
        [event(9, "system", "custom", {"type": "handoff_resolved", "operator": LEE})]
    )
    assert (entry.role, entry.label) == (Role.SYSTEM, "Resolved by Lee")


def test_a_held_reply_and_a_draft_offered_are_shown_without_the_replys_text() -> None:
    held = HeldReply("admit_liability", "slack:U2", "Lee", "slack:C1:5.0").as_event_data()
    entries = transcript_entries(
        [
            event(9, "system", "custom", held),
            event(10, "human_agent", "custom", draft_offered_data("6.0")),
        ]
    )
    assert [(e.role, e.label, e.text) for e in entries] == [
        (
            Role.SYSTEM,
            "A reply in the agent's name by Lee was held",
            "Rule: admit_liability. Not sent to the customer.",
        ),
        (Role.SYSTEM, "The agent drafted a reply", "Offered in the Slack thread."),
    ]


def test_a_slack_channel_behind_is_one_line_the_longest_wait_first() -> None:
    lines = slack_backlog_lines({"C0A": (1, 130.0), "C0B": (37, 600.0)})
    assert lines[0].startswith("Slack channel C0B is behind: 37 customer messages")
    assert "1 customer message not yet" in lines[1]
    assert slack_backlog_lines({}) == []


def test_the_chat_pages_opening_is_labelled_as_the_pages_words() -> None:
    # The widget's agentOpeningMessage is posted by the customer's browser in the agent's voice
    # (agent/customers/gateway.py); no operator wrote it.
    on_behalf = "human_agent_on_behalf_of_ai_agent"
    opening = event(0, on_behalf, "message", {"message": "Hi!"}, opening="chat_page")
    as_ai = event(1, on_behalf, "message", {"message": "Yes"}, operator=LEE)
    # The gateway's own notice when the widget's first message was refused.
    notice = event(2, on_behalf, "message", {"message": "Not sent"}, notice="message_not_sent")
    entries = transcript_entries([opening, as_ai, notice])
    assert [(e.role, e.label, e.text) for e in entries] == [
        (Role.HUMAN_AS_AI, "AI agent, the chat page's opening message", "Hi!"),
        (Role.HUMAN_AS_AI, "AI agent, written by Lee", "Yes"),
        (Role.SYSTEM, "AI agent, notice: the customer's message was not sent", "Not sent"),
    ]
