"""When a handoff's SLA line and notices next change by the clocks alone: the bridge looks at an
unchanged escalation at those instants only, so they must be neither late nor missing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.sla import SlaSettings, SlaView, display_key, next_changes, sla_view
from tests.test_sla import T0, iso, sla_settings

PLANS = [
    sla_settings(),
    sla_settings(claim_min=0.5, reply_min=1.5),
    sla_settings(claim_min=90, reply_min=240),
    sla_settings(hours="Mon-Fri 09:00-17:00", zone="Europe/Berlin"),
    sla_settings(
        claim_min=3,
        reply_min=600,
        hours="Tue 01:30-02:30, Sun 02:00-03:00",
        zone="America/New_York",
    ),
]

minutes = st.integers(min_value=0, max_value=60 * 24 * 4)
maybe_minutes = st.none() | minutes


@st.composite
def records(draw: st.DrawFn) -> dict[str, str]:
    record = {"status": "waiting", "requested_at": iso(T0)}
    for field in ("first_claimed_at", "first_human_reply_at", "returned_at", "resolved_at"):
        offset = draw(maybe_minutes)
        if offset is not None:
            record[field] = iso(T0 + timedelta(minutes=offset))
    return record


def view_at(record: dict[str, str], plan: SlaSettings, moment: datetime) -> SlaView:
    view = sla_view(record, plan, moment)
    assert view is not None
    return view


def breached(view: SlaView) -> tuple[bool, bool]:
    return view.claim.breached, view.first_reply.breached


def holds_until(
    seen: Callable[[SlaView], object],
    due: datetime | None,
    record: dict[str, str],
    plan: SlaSettings,
    now: datetime,
    share: float,
) -> None:
    """What `seen` reads of the clocks stays as at `now` until `due`; with no `due`, for good."""
    at_now = seen(view_at(record, plan, now))
    if due is None:
        assert seen(view_at(record, plan, now + timedelta(days=30))) == at_now
        return
    assert due > now
    # timedelta rounds to microseconds: a share just under 1 can land on `due` itself, so the
    # last instant before it is checked on its own.
    assert seen(view_at(record, plan, now + (due - now) * share)) == at_now
    assert seen(view_at(record, plan, due - timedelta(microseconds=1))) == at_now


# A plan, a record with any of its stops, a moment, and a share of the way to the next change.
cases = given(
    st.sampled_from(PLANS),
    records(),
    minutes,
    st.floats(min_value=0, max_value=0.999),
)


@settings(max_examples=200, deadline=None)
@cases
def test_nothing_shown_changes_before_the_next_change_and_something_does_at_it(
    plan: SlaSettings, record: dict[str, str], now_min: int, share: float
) -> None:
    now = T0 + timedelta(minutes=now_min)
    line = next_changes(record, plan, now).line
    holds_until(display_key, line, record, plan, now, share)
    if line is not None:
        assert display_key(view_at(record, plan, line)) != display_key(view_at(record, plan, now))


@settings(max_examples=200, deadline=None)
@cases
def test_no_clock_passes_its_target_before_the_next_notice_instant(
    plan: SlaSettings, record: dict[str, str], now_min: int, share: float
) -> None:
    now = T0 + timedelta(minutes=now_min)
    holds_until(breached, next_changes(record, plan, now).notice, record, plan, now, share)


def test_a_waiting_handoff_is_next_looked_at_on_each_minute_then_at_due_soon_and_the_target() -> (
    None
):
    record = {"status": "waiting", "requested_at": iso(T0)}
    plan = sla_settings(claim_min=15, reply_min=30)
    assert next_changes(record, plan, T0).line == T0 + timedelta(minutes=1)
    assert next_changes(record, plan, T0).notice == T0 + timedelta(minutes=15)
    # 11 min 30 s: the display steps by 5 minutes now, but due soon (12 min) comes first.
    at = T0 + timedelta(minutes=11, seconds=30)
    assert next_changes(record, plan, at).line == T0 + timedelta(minutes=12)
    # Claim breached at 15: the first reply's target (30) is the next notice.
    assert next_changes(record, plan, T0 + timedelta(minutes=16)).notice == T0 + timedelta(
        minutes=30
    )


def test_a_threshold_just_reached_is_not_the_next_change() -> None:
    record = {"status": "waiting", "requested_at": iso(T0)}
    plan = sla_settings(claim_min=15, reply_min=30)
    # Due soon at exactly 12 min: next comes the 15-minute step (and the breach with it).
    assert next_changes(record, plan, T0 + timedelta(minutes=12)).line == T0 + timedelta(minutes=15)
    # Breached at exactly 15 min: next comes the 20-minute step of both clocks.
    assert next_changes(record, plan, T0 + timedelta(minutes=15)).line == T0 + timedelta(minutes=20)


def test_a_breach_between_two_display_steps_is_a_change_of_its_own() -> None:
    record = {"status": "waiting", "requested_at": iso(T0)}
    plan = sla_settings(claim_min=0.5, reply_min=1.5)
    # Due soon since 24 s; breached at 30 s, before the display reaches a whole minute.
    assert next_changes(record, plan, T0 + timedelta(seconds=25)).line == T0 + timedelta(seconds=30)


def test_a_resolved_handoff_never_changes_by_the_clock() -> None:
    record = {
        "status": "resolved",
        "requested_at": iso(T0),
        "resolved_at": iso(T0 + timedelta(minutes=3)),
    }
    changes = next_changes(record, sla_settings(), T0 + timedelta(minutes=5))
    assert (changes.line, changes.notice) == (None, None)


def test_a_record_without_a_handoff_time_has_no_changes() -> None:
    changes = next_changes({"status": "waiting"}, sla_settings(), T0)
    assert (changes.line, changes.notice) == (None, None)


def test_outside_business_hours_the_next_change_is_when_the_office_opens() -> None:
    plan = sla_settings(hours="Mon-Fri 09:00-17:00", zone="UTC")
    friday_evening = datetime(2026, 3, 6, 16, 59, 30, tzinfo=T0.tzinfo)
    record = {"status": "waiting", "requested_at": iso(friday_evening)}
    # 30 s of business time on Friday, the next 30 s on Monday at 09:00.
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=T0.tzinfo)
    assert next_changes(record, plan, saturday).line == datetime(
        2026, 3, 9, 9, 0, 30, tzinfo=T0.tzinfo
    )
