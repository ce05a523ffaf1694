"""The root message's SLA line (slack_kit/sla_text.py), exactly as Slack receives it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from handoff.sla import Clock, ClockName, ClockState, SlaView
from slack_kit.sla_text import sla_blocks, sla_clock_text

MIN = timedelta(minutes=1)


def clock(
    elapsed: timedelta,
    state: ClockState = "ok",
    stopped_by: str | None = None,
    name: ClockName = "claim",
    target: timedelta = 15 * MIN,
) -> Clock:
    return Clock(name, target, elapsed, state, stopped_by is None, None, stopped_by)


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [
        (timedelta(seconds=59), "under 1 min"),
        (timedelta(seconds=60), "1 min"),
        (timedelta(seconds=119), "1 min"),
        (12 * MIN + timedelta(seconds=30), "10 min"),  # shown in 5-minute steps past 10
    ],
)
def test_a_running_clock_shows_time_so_far_target_and_state(elapsed: timedelta, shown: str) -> None:
    assert sla_clock_text(clock(elapsed)) == f":large_green_circle: Claim {shown} / 15 min, on time"


def test_states_have_their_colour_and_words() -> None:
    assert sla_clock_text(clock(13 * MIN, "due_soon")) == (
        ":large_yellow_circle: Claim 10 min / 15 min, due soon"
    )
    assert sla_clock_text(clock(40 * MIN, "breached", name="first_reply", target=30 * MIN)) == (
        ":red_circle: First reply 40 min / 30 min, breached"
    )


@pytest.mark.parametrize(
    ("stopped_by", "how"),
    [
        ("claimed", "claimed"),
        ("replied", "answered"),
        ("returned", "returned to the AI"),
        ("resolved", "resolved"),
        ("something new", "stopped"),
        ("", "stopped"),
    ],
)
def test_a_stopped_clock_says_how_it_ended(stopped_by: str, how: str) -> None:
    met = Clock("claim", 15 * MIN, 7 * MIN + timedelta(seconds=20), "ok", False, None, stopped_by)
    assert sla_clock_text(met) == (
        f":large_green_circle: Claim met: {how} after 7 min (target 15 min)"
    )
    late = Clock("claim", 15 * MIN, 20 * MIN, "breached", False, None, stopped_by)
    assert (
        sla_clock_text(late) == f":red_circle: Claim breached: {how} after 20 min (target 15 min)"
    )


def view(business_hours_only: bool) -> SlaView:
    reply = clock(3 * MIN, name="first_reply", target=30 * MIN)
    return SlaView(clock(3 * MIN), reply, business_hours_only)


def context(text: str) -> list[dict[str, object]]:
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


CLOCKS = (
    ":large_green_circle: Claim 3 min / 15 min, on time · "
    ":large_green_circle: First reply 3 min / 30 min, on time"
)


def test_the_sla_line_ages_itself_in_slack_and_names_the_clocks() -> None:
    requested = "2025-03-03T09:05:00+00:00"
    stamp = int(datetime(2025, 3, 3, 9, 5, tzinfo=UTC).timestamp())
    ago = f"<!date^{stamp}^{{ago}}|at 2025-03-03 09:05 UTC>"
    assert sla_blocks(view(False), requested) == context(
        f":stopwatch: Handed off {ago} · SLA: {CLOCKS}"
    )
    assert sla_blocks(view(True), requested) == context(
        f":stopwatch: Handed off {ago} · SLA (business hours): {CLOCKS}"
    )


def test_handoff_times_without_a_zone_are_utc_and_others_are_shown_in_utc() -> None:
    stamp = int(datetime(2025, 3, 3, 9, 5, tzinfo=UTC).timestamp())
    expected = f"<!date^{stamp}^{{ago}}|at 2025-03-03 09:05 UTC>"
    for requested in ("2025-03-03T09:05:00", "2025-03-03T10:05:00+01:00"):
        text = sla_blocks(view(False), requested)[0]["elements"][0]["text"]
        assert text.startswith(f":stopwatch: Handed off {expected} · ")


@pytest.fixture
def machine_far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_handoff_time_does_not_depend_on_the_machines_zone(machine_far_from_utc: None) -> None:
    test_handoff_times_without_a_zone_are_utc_and_others_are_shown_in_utc()


def test_an_unreadable_handoff_time_is_said_so() -> None:
    text = sla_blocks(view(False), "yesterday")[0]["elements"][0]["text"]
    assert text == f":stopwatch: Handed off at an unknown time · SLA: {CLOCKS}"


def test_no_sla_no_line() -> None:
    assert sla_blocks(None, "2025-03-03T09:05:00+00:00") == []
