"""What waits for each channel, summed over replicas, and the overflow rule
(slack_kit/backlog.py): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slack_bridge.backlog_watch import channel_backlogs
from slack_kit.backlog import (
    BadReport,
    ChannelBacklog,
    ReportedBacklogs,
    behind_note,
    overflow_channel,
    parse_report,
    report_body,
)

BUSY, SPARE, OVERFLOW = "C0BUSY", "C0SPARE", "C0OVER"


def test_a_report_round_trips() -> None:
    channels = {BUSY: ChannelBacklog(12, 95.25)}
    assert parse_report(report_body("bridge-a", channels)) == (
        "bridge-a",
        {BUSY: ChannelBacklog(12, 95.2)},
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "JSON object"),
        ({"channels": {}}, "reporter"),
        ({"reporter": "x" * 101, "channels": {}}, "reporter"),
        ({"reporter": "a", "channels": []}, "channels must be an object"),
        ({"reporter": "a", "channels": {"#general": {}}}, "not a channel id"),
        ({"reporter": "a", "channels": {BUSY: 3}}, "must be an object"),
        ({"reporter": "a", "channels": {BUSY: {"waiting": 1.5}}}, "waiting"),
        ({"reporter": "a", "channels": {BUSY: {"waiting": True}}}, "waiting"),
        ({"reporter": "a", "channels": {BUSY: {"waiting": 1}}}, "oldest_wait_seconds"),
        (
            {"reporter": "a", "channels": {BUSY: {"waiting": 1, "oldest_wait_seconds": -1}}},
            "oldest_wait_seconds",
        ),
        (
            {"reporter": "a", "channels": {f"C{n:08d}": {} for n in range(201)}},
            "at most 200",
        ),
    ],
)
def test_a_malformed_report_says_what_is_wrong(body: Any, says: str) -> None:
    with pytest.raises(BadReport, match=says):
        parse_report(body)


def test_replicas_add_up_and_a_silent_one_stops_counting() -> None:
    reports = ReportedBacklogs(ttl_s=60)
    reports.report("a", {BUSY: ChannelBacklog(10, 30.0), SPARE: ChannelBacklog(0, 0.0)}, now=0)
    reports.report("b", {BUSY: ChannelBacklog(5, 90.0)}, now=10)
    assert reports.current(now=20) == {BUSY: ChannelBacklog(15, 100.0)}  # aged since reported
    reports.report("b", {}, now=30)  # b caught up
    assert reports.current(now=30) == {BUSY: ChannelBacklog(10, 60.0)}
    assert reports.current(now=61) == {}  # a said nothing for over a minute


def test_new_escalations_overflow_only_while_their_channel_is_behind() -> None:
    behind = {BUSY: ChannelBacklog(40, 300.0), SPARE: ChannelBacklog(2, 5.0)}
    assert overflow_channel(BUSY, behind, OVERFLOW, after_s=120) == OVERFLOW
    assert overflow_channel(SPARE, behind, OVERFLOW, after_s=120) == SPARE
    assert overflow_channel(BUSY, behind, None, after_s=120) == BUSY  # no overflow set
    assert overflow_channel(BUSY, behind, OVERFLOW, after_s=600) == BUSY  # not behind yet
    both = {**behind, OVERFLOW: ChannelBacklog(9, 200.0)}
    assert overflow_channel(BUSY, both, OVERFLOW, after_s=120) == BUSY  # nowhere better


def test_the_note_says_how_far_behind_and_where_new_escalations_go() -> None:
    note = behind_note(ChannelBacklog(37, 250.0), OVERFLOW)
    assert "37 customer messages" in note and "about 4 min" in note
    assert f"<#{OVERFLOW}>" in note
    assert "SLACK_OVERFLOW_CHANNEL" in behind_note(ChannelBacklog(1, 130.0), None)
    assert "1 customer message waiting" in behind_note(ChannelBacklog(1, 130.0), None)


def test_a_replicas_waiting_messages_become_its_report() -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    waiting = {BUSY: (3, now - timedelta(seconds=42)), SPARE: (0, None)}
    assert channel_backlogs(waiting, now.timestamp()) == {
        BUSY: ChannelBacklog(3, 42.0),
        SPARE: ChannelBacklog(0, 0.0),
    }
