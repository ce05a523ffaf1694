"""The SLA clock: business time under a schedule, and each clock's state for a handoff record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import EnvReader, SettingsError
from handoff.sla import (
    BusinessHours,
    SlaSettings,
    display_key,
    parse_business_hours,
    shown_elapsed,
    sla_view,
)

UTC = UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = parse_business_hours("Mon-Fri 09:00-17:00", BERLIN)
WITH_SATURDAY = parse_business_hours("Mon-Fri 09:00-17:00, Sat 10:00-14:00", BERLIN)


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[arg-type, misc]


def sla_settings(
    claim_min: float = 15, reply_min: float = 30, hours: str = "", zone: str = "UTC"
) -> SlaSettings:
    return SlaSettings.from_env(
        EnvReader(
            environ={
                "SLA_CLAIM_TARGET_MINUTES": str(claim_min),
                "SLA_FIRST_REPLY_TARGET_MINUTES": str(reply_min),
                "SLA_BUSINESS_HOURS": hours,
                "SLA_TIMEZONE": zone,
            },
            dotenv={},
        )
    )


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# --- business time ----------------------------------------------------------------------------


def test_around_the_clock_counts_wall_time() -> None:
    hours = parse_business_hours("", ZoneInfo("UTC"))
    assert hours.around_the_clock
    assert hours.elapsed(T0, T0 + timedelta(hours=30)) == timedelta(hours=30)
    assert hours.deadline(T0, timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_a_night_is_skipped() -> None:
    # Monday 16:30 to Tuesday 09:30 Berlin: 30 minutes before closing, 30 after opening.
    assert OFFICE.elapsed(berlin(2026, 3, 2, 16, 30), berlin(2026, 3, 3, 9, 30)) == timedelta(
        hours=1
    )


def test_a_weekend_is_skipped_and_saturday_hours_count() -> None:
    friday_late, monday_early = berlin(2026, 3, 6, 16, 0), berlin(2026, 3, 9, 10, 0)
    assert OFFICE.elapsed(friday_late, monday_early) == timedelta(hours=2)
    assert WITH_SATURDAY.elapsed(friday_late, monday_early) == timedelta(hours=6)


def test_time_outside_hours_counts_nothing() -> None:
    assert OFFICE.elapsed(berlin(2026, 3, 7, 9, 0), berlin(2026, 3, 8, 23, 0)) == timedelta(0)


def test_the_spring_dst_change_keeps_office_hours_local() -> None:
    # Berlin moves to summer time on Sunday 29 March 2026; Monday still opens at 09:00 local.
    friday = berlin(2026, 3, 27, 16, 0)
    monday = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert OFFICE.elapsed(friday, monday) == timedelta(hours=1)
    assert OFFICE.deadline(friday, timedelta(hours=2)) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_day_that_loses_an_hour_is_an_hour_shorter_around_the_clock_in_the_zone() -> None:
    all_day = parse_business_hours("Mon-Sun 00:00-24:00", NEW_YORK)
    start = datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 3, 9, 0, 0, tzinfo=NEW_YORK)
    assert all_day.elapsed(start.astimezone(UTC), end.astimezone(UTC)) == timedelta(hours=23)


def test_the_autumn_dst_change_gives_the_night_hour_back() -> None:
    all_day = parse_business_hours("Mon-Sun 00:00-24:00", NEW_YORK)
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK)
    assert all_day.elapsed(start.astimezone(UTC), end.astimezone(UTC)) == timedelta(hours=25)


def test_overlapping_ranges_are_not_counted_twice() -> None:
    hours = parse_business_hours("Mon-Fri 09:00-17:00, Mon 12:00-18:00", BERLIN)
    assert hours.elapsed(berlin(2026, 3, 2, 0, 0), berlin(2026, 3, 3, 0, 0)) == timedelta(hours=9)


def test_deadline_crosses_the_weekend() -> None:
    friday = berlin(2026, 3, 6, 16, 50)
    assert OFFICE.deadline(friday, timedelta(minutes=15)) == berlin(2026, 3, 9, 9, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "Mon-Fri",
        "Mon-Fri 9-17",
        "Fri-Mon 09:00-17:00",
        "Mon 17:00-09:00",
        "Xyz 09:00-10:00",
        "Mon 09:00-24:30",
        "Mon 09:61-10:00",
    ],
)
def test_malformed_business_hours_are_refused_with_an_example(raw: str) -> None:
    with pytest.raises(SettingsError, match="SLA_BUSINESS_HOURS"):
        parse_business_hours(raw, BERLIN)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
schedules = st.sampled_from(
    [
        OFFICE,
        WITH_SATURDAY,
        parse_business_hours("Mon-Sun 00:00-24:00", NEW_YORK),
        parse_business_hours("Tue 01:30-02:30, Sun 02:00-03:00", NEW_YORK),
        parse_business_hours("", ZoneInfo("UTC")),
    ]
)


@settings(max_examples=200, deadline=None)
@given(schedules, instants, instants, instants)
def test_elapsed_is_additive(hours: BusinessHours, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert hours.elapsed(a, c) == hours.elapsed(a, b) + hours.elapsed(b, c)


@settings(max_examples=200, deadline=None)
@given(schedules, instants, instants, instants)
def test_elapsed_is_monotone_and_never_exceeds_wall_time(
    hours: BusinessHours, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert timedelta(0) <= hours.elapsed(a, b) <= hours.elapsed(a, c) <= c - a


@settings(max_examples=200, deadline=None)
@given(schedules, instants, st.integers(min_value=1, max_value=60 * 24 * 2))
def test_deadline_is_where_elapsed_reaches_the_budget(
    hours: BusinessHours, start: datetime, minutes: int
) -> None:
    budget = timedelta(minutes=minutes)
    due = hours.deadline(start, budget)
    assert due is not None
    assert hours.elapsed(start, due) == budget
    assert hours.elapsed(start, due - timedelta(seconds=1)) < budget


# --- a record's clocks ------------------------------------------------------------------------


def test_a_waiting_handoff_runs_both_clocks_ok_then_due_soon_then_breached() -> None:
    record = {"status": "waiting", "requested_at": iso(T0)}
    plan = sla_settings()
    early = sla_view(record, plan, T0 + timedelta(minutes=5))
    assert early is not None
    assert (early.claim.state, early.claim.running, early.claim.elapsed) == (
        "ok",
        True,
        timedelta(minutes=5),
    )
    assert early.claim.due_at == T0 + timedelta(minutes=15)
    soon = sla_view(record, plan, T0 + timedelta(minutes=13))
    assert soon is not None and soon.claim.state == "due_soon" and soon.first_reply.state == "ok"
    late = sla_view(record, plan, T0 + timedelta(minutes=15))
    assert late is not None and late.claim.breached and late.worst == "breached"


def test_claiming_in_time_stops_the_claim_clock_and_keeps_it_met() -> None:
    record = {
        "status": "claimed",
        "requested_at": iso(T0),
        "first_claimed_at": iso(T0 + timedelta(minutes=4)),
        "claimed_at": iso(T0 + timedelta(minutes=20)),
    }
    view = sla_view(record, sla_settings(), T0 + timedelta(hours=2))
    assert view is not None
    assert (view.claim.running, view.claim.stopped_by, view.claim.state) == (False, "claimed", "ok")
    assert view.claim.elapsed == timedelta(minutes=4)
    # Nobody replied for two hours: the reply clock is still running and breached.
    assert view.first_reply.running and view.first_reply.breached


def test_a_late_claim_stays_breached() -> None:
    record = {
        "status": "claimed",
        "requested_at": iso(T0),
        "first_claimed_at": iso(T0 + timedelta(minutes=16)),
        "first_human_reply_at": iso(T0 + timedelta(minutes=17)),
    }
    view = sla_view(record, sla_settings(), T0 + timedelta(days=1))
    assert view is not None
    assert view.claim.breached and not view.claim.running
    assert view.first_reply.state == "ok" and view.first_reply.stopped_by == "replied"


def test_returning_or_resolving_stops_the_clocks_a_breach_before_stays() -> None:
    returned_early = {
        "status": "returned",
        "requested_at": iso(T0),
        "returned_at": iso(T0 + timedelta(minutes=3)),
    }
    view = sla_view(returned_early, sla_settings(), T0 + timedelta(days=2))
    assert view is not None
    assert (view.claim.state, view.claim.stopped_by, view.first_reply.stopped_by) == (
        "ok",
        "returned",
        "returned",
    )
    resolved_late = {
        "status": "resolved",
        "requested_at": iso(T0),
        "resolved_at": iso(T0 + timedelta(minutes=20)),
    }
    late = sla_view(resolved_late, sla_settings(), T0 + timedelta(days=2))
    assert late is not None
    assert late.claim.breached and not late.claim.running and late.first_reply.state == "ok"


def test_clocks_count_business_time_only() -> None:
    friday = berlin(2026, 3, 6, 16, 55)
    record = {"status": "waiting", "requested_at": iso(friday)}
    plan = sla_settings(hours="Mon-Fri 09:00-17:00", zone="Europe/Berlin")
    monday = sla_view(record, plan, berlin(2026, 3, 9, 9, 5))
    assert monday is not None and monday.business_hours_only
    assert monday.claim.elapsed == timedelta(minutes=10) and monday.claim.state == "ok"
    assert monday.claim.due_at == berlin(2026, 3, 9, 9, 10)


def test_older_records_without_first_claimed_at_use_claimed_at() -> None:
    record = {
        "status": "claimed",
        "requested_at": iso(T0),
        "claimed_at": iso(T0 + timedelta(minutes=2)),
    }
    view = sla_view(record, sla_settings(), T0 + timedelta(hours=1))
    assert (
        view is not None and view.claim.elapsed == timedelta(minutes=2) and not view.claim.running
    )


def test_a_record_without_a_handoff_time_has_no_clocks() -> None:
    assert sla_view({"status": "waiting"}, sla_settings(), T0) is None


def test_display_changes_at_coarse_steps_only() -> None:
    record = {"status": "waiting", "requested_at": iso(T0)}
    plan = sla_settings(claim_min=120, reply_min=240)

    def key(minutes: float) -> str:
        view = sla_view(record, plan, T0 + timedelta(minutes=minutes))
        assert view is not None
        return display_key(view)

    assert key(3.1) == key(3.9) != key(4.0)  # whole minutes under 10 minutes
    assert key(11) == key(14.5) != key(15)  # then 5-minute steps
    assert key(61) == key(74) != key(75)  # then 15-minute steps
    view = sla_view(record, plan, T0 + timedelta(minutes=13))
    assert view is not None and shown_elapsed(view.claim) == timedelta(minutes=10)


def test_fractional_targets_are_allowed() -> None:
    assert sla_settings(claim_min=0.05).claim_target == timedelta(seconds=3)


def test_the_handoff_notice_says_when_a_person_will_reply() -> None:
    from agent.customers.notices import handoff_notice

    env = EnvReader(
        environ={
            "SLA_BUSINESS_HOURS": "Mon-Fri 09:00-17:00",
            "SLA_TIMEZONE": "Europe/London",
            "SLA_FIRST_REPLY_TARGET_MINUTES": "20",
        },
        dotenv={},
    )
    sla = SlaSettings.from_env(env)
    tuesday_noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert handoff_notice(sla, tuesday_noon) == (
        "A person from our support team will reply here, usually within 20 min."
    )
    friday_evening = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
    assert handoff_notice(sla, friday_evening) == (
        "Our support team is away right now. A person will reply here when they are back "
        "(Monday 09:00, Europe/London time), usually within 20 min after that."
    )
    tuesday_dawn = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert "(today at 09:00, Europe/London time)" in handoff_notice(sla, tuesday_dawn)
    around_the_clock = SlaSettings.around_the_clock_defaults()
    assert "usually within 30 min" in handoff_notice(around_the_clock, friday_evening)
