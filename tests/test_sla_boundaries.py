"""handoff/sla.py at its edges: durations as shown, schedules as parsed, which stop ends a clock.

test_sla.py covers the clocks' behaviour; these pin each boundary so that `make mutation` sees a
changed comparison or constant.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import EnvReader, SettingsError
from handoff.sla import (
    HoursRange,
    SlaSettings,
    display_key,
    display_step,
    format_minutes,
    parse_business_hours,
    parse_instant,
    sla_view,
)

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("span", "shown"),
    [
        (-5 * S, "0 s"),
        (0 * S, "0 s"),
        (59 * S, "59 s"),
        (60 * S, "1 min"),
        (59 * MIN + 59 * S, "59 min"),
        (60 * MIN, "1 h 00 min"),
        (2 * H + 5 * MIN, "2 h 05 min"),
        (23 * H + 59 * MIN, "23 h 59 min"),
        (24 * H, "1 d 0 h"),
        (3 * 24 * H + 4 * H + 59 * MIN, "3 d 4 h"),
    ],
)
def test_durations_for_people(span: timedelta, shown: str) -> None:
    assert format_minutes(span) == shown


@pytest.mark.parametrize(
    ("elapsed", "step"),
    [
        (10 * MIN - S, MIN),
        (10 * MIN, 5 * MIN),
        (H - S, 5 * MIN),
        (H, 15 * MIN),
    ],
)
def test_display_steps_change_at_ten_minutes_and_an_hour(
    elapsed: timedelta, step: timedelta
) -> None:
    assert display_step(elapsed) == step


def settings(hours: str = "", zone: str = "UTC", claim: str = "15") -> SlaSettings:
    environ = {"SLA_BUSINESS_HOURS": hours, "SLA_TIMEZONE": zone, "SLA_CLAIM_TARGET_MINUTES": claim}
    return SlaSettings.from_env(EnvReader(environ=environ, dotenv={}))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def test_the_display_key_names_each_clocks_state_and_shown_time() -> None:
    view = sla_view({"requested_at": iso(T0)}, settings(), T0 + 12 * MIN + 30 * S)
    assert view is not None
    assert display_key(view) == "claim:due_soon:True:600|first_reply:ok:True:600"


@pytest.mark.parametrize("value", [None, "", 5, "not a time"])
def test_unreadable_instants_are_none(value: object) -> None:
    assert parse_instant(value) is None


def test_instants_without_a_zone_are_utc_and_others_keep_theirs() -> None:
    assert parse_instant("2026-03-02T10:00:00") == T0
    assert parse_instant("2026-03-02T10:00:00").tzinfo is UTC
    moment = parse_instant("2026-03-02T11:00:00+01:00")
    assert moment == T0 and moment.utcoffset() == H


def test_a_stop_at_this_very_instant_has_stopped_the_clock() -> None:
    view = sla_view(
        {"requested_at": iso(T0), "first_claimed_at": iso(T0 + MIN)}, settings(), T0 + MIN
    )
    assert view is not None
    assert (view.claim.running, view.claim.stopped_by) == (False, "claimed")


def test_the_earliest_stop_ends_a_clock_and_ties_go_to_the_first_listed() -> None:
    record = {
        "requested_at": iso(T0),
        "first_claimed_at": iso(T0 + 5 * MIN),
        "resolved_at": iso(T0 + 2 * MIN),
    }
    view = sla_view(record, settings(), T0 + H)
    assert view is not None
    assert (view.claim.stopped_by, view.claim.elapsed) == ("resolved", 2 * MIN)
    tie = {"requested_at": iso(T0), "returned_at": iso(T0 + MIN), "resolved_at": iso(T0 + MIN)}
    view = sla_view(tie, settings(), T0 + H)
    assert view is not None
    assert view.claim.stopped_by == view.first_reply.stopped_by == "returned"


def test_parsed_ranges_are_minutes_after_midnight_on_their_weekdays() -> None:
    hours = parse_business_hours("Wed 09:30-17:15,, Tue-Thu 00:00-24:00", ZoneInfo("UTC"))
    assert hours.ranges == (
        HoursRange(frozenset({2}), 570, 1035),
        HoursRange(frozenset({1, 2, 3}), 0, 1440),
    )
    assert parse_business_hours("Mon 09:59-10:00", ZoneInfo("UTC")).ranges[0].start_minute == 599


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("Mon 09:60-10:00", "'09:60' is not a time of day; use 00:00 to 24:00"),
        ("Mon 00:00-25:00", "'25:00' is not a time of day; use 00:00 to 24:00"),
        ("Mon 00:00-24:01", "'24:01' is not a time of day; use 00:00 to 24:00"),
        (
            "Mon 10:00-10:00",
            "'mon 10:00-10:00' ends before it starts; a range cannot pass midnight, "
            "split it into two (e.g. 'Mon 22:00-24:00, Tue 00:00-06:00')",
        ),
    ],
    ids=["minute-60", "hour-25", "past-24", "empty-range"],  # mutmut selects tests by plain id
)
def test_malformed_ranges_name_the_setting(raw: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_business_hours(raw, ZoneInfo("UTC"))
    assert str(raised.value) == f"SLA_BUSINESS_HOURS: {message}"


def test_a_deadline_skips_an_interval_already_over_but_not_the_days_next_one() -> None:
    hours = parse_business_hours("Mon 09:00-12:00, Mon 14:00-17:00", ZoneInfo("UTC"))
    start = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert hours.deadline(start, H) == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_deadline_that_falls_at_closing_time_is_closing_time() -> None:
    hours = parse_business_hours("Mon 09:00-12:00", ZoneInfo("UTC"))
    start = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert hours.deadline(start, H) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def far_east_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's own zone 25 hours ahead of the SLA zone below."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_business_days_are_the_sla_zones_not_the_machines(far_east_machine: None) -> None:
    pago_pago = ZoneInfo("Pacific/Pago_Pago")  # UTC-11; the machine is at UTC+14
    hours = parse_business_hours("Mon 22:00-24:00", pago_pago)
    start = datetime(2026, 3, 2, 23, 0, tzinfo=pago_pago)  # Wednesday 00:00 on the machine
    assert hours.elapsed(start, start + 30 * MIN) == 30 * MIN
    assert hours.deadline(start, 30 * MIN) == start + 30 * MIN


def test_defaults_read_nothing_from_the_environment_or_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SLA_CLAIM_TARGET_MINUTES=99\n")
    monkeypatch.setenv("DOTENV_PATH", str(dotenv))
    monkeypatch.setenv("SLA_FIRST_REPLY_TARGET_MINUTES", "98")
    defaults = SlaSettings.around_the_clock_defaults()
    assert (defaults.claim_target, defaults.first_reply_target) == (15 * MIN, 30 * MIN)
    assert defaults.hours.around_the_clock and defaults.hours.zone == ZoneInfo("UTC")


def test_a_zero_target_and_an_unknown_zone_say_what_to_set() -> None:
    with pytest.raises(SettingsError) as raised:
        settings(claim="0")
    assert str(raised.value) == (
        "SLA_CLAIM_TARGET_MINUTES=0 is not a target; set the minutes, more than 0, e.g. 15"
    )
    with pytest.raises(SettingsError) as raised:
        settings(zone="Mars/Olympus")
    assert str(raised.value) == (
        "SLA_TIMEZONE='Mars/Olympus' is not a known time zone; set an IANA name like Europe/Berlin"
    )
