"""The SLA clock of a handoff, pure: business time between instants, and each clock's state.

Two clocks run from the handoff (`requested_at`, which a repeated request never resets): time
to claim (stops at `first_claimed_at`) and time to first human reply (stops at
`first_human_reply_at`). Returning the session to the AI or resolving it stops a clock that is
still running; a target passed before that stays breached. Clocks count business time only
when `SLA_BUSINESS_HOURS` is set, in `SLA_TIMEZONE`, so nights, weekends and DST changes in
that zone are measured as a person in the office would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config import EnvReader, SettingsError

ClockState = Literal["ok", "due_soon", "breached"]
ClockName = Literal["claim", "first_reply"]

# A clock is "due soon" once this share of its target has passed.
DUE_SOON_SHARE = 0.8
# Deadlines further away than this are not computed (a schedule with business time every week
# reaches any sensible target long before).
DEADLINE_HORIZON_DAYS = 400

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True)
class HoursRange:
    """Business hours on some weekdays (0 = Monday), from `start` to `end` minutes after midnight."""

    weekdays: frozenset[int]
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class BusinessHours:
    """When the clocks run; no ranges means around the clock."""

    ranges: tuple[HoursRange, ...]
    zone: ZoneInfo

    @property
    def around_the_clock(self) -> bool:
        return not self.ranges

    def _open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's business intervals as UTC instants, merged where ranges overlap."""
        intervals = []
        for hours in self.ranges:
            if day.weekday() not in hours.weekdays:
                continue
            start = self._instant(day, hours.start_minute)
            end = self._instant(day, hours.end_minute)
            if end > start:  # a range inside a skipped DST hour has no length
                intervals.append((start, end))
        merged: list[tuple[datetime, datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def _instant(self, day: date, minute: int) -> datetime:
        # Adding to an aware datetime moves its wall clock, so 09:00 stays 09:00 local on a
        # DST day; a time inside a skipped hour resolves with the offset before the change.
        local = datetime.combine(day, time(0), tzinfo=self.zone) + timedelta(minutes=minute)
        return local.astimezone(UTC)

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end` (zero if `end` is not after `start`)."""
        if end <= start:
            return timedelta(0)
        if self.around_the_clock:
            return end - start
        total = timedelta(0)
        # Ranges never pass midnight, so the local days from the day before to the day after
        # cover every interval that can overlap [start, end].
        day = self._local_day(start) - timedelta(days=1)
        last = self._local_day(end) + timedelta(days=1)
        while day <= last:
            for open_at, close_at in self._open_intervals(day):
                overlap = min(close_at, end) - max(open_at, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def deadline(self, start: datetime, budget: timedelta) -> datetime | None:
        """The instant at which `budget` of business time has passed since `start`."""
        if self.around_the_clock:
            return start + budget
        remaining = budget
        day = self._local_day(start) - timedelta(days=1)
        for _ in range(DEADLINE_HORIZON_DAYS):
            for open_at, close_at in self._open_intervals(day):
                begin = max(open_at, start)
                if close_at <= begin:
                    continue
                if begin + remaining <= close_at:
                    return begin + remaining
                remaining -= close_at - begin
            day += timedelta(days=1)
        return None


def parse_business_hours(
    raw: str, zone: ZoneInfo, name: str = "SLA_BUSINESS_HOURS"
) -> BusinessHours:
    """'Mon-Fri 09:00-17:00, Sat 10:00-14:00' → BusinessHours; empty → around the clock."""
    ranges = []
    for part in (p.strip().lower() for p in raw.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if match is None:
            raise SettingsError(
                f"{name}: {part!r} is not a range; set ranges like 'Mon-Fri 09:00-17:00, Sat 10:00-14:00'"
            )
        weekdays = _weekdays(match["days"], name)
        start, end = _minute(match["start"], name), _minute(match["end"], name)
        if end <= start:
            raise SettingsError(
                f"{name}: {part!r} ends before it starts; a range cannot pass midnight, "
                "split it into two (e.g. 'Mon 22:00-24:00, Tue 00:00-06:00')"
            )
        ranges.append(HoursRange(weekdays, start, end))
    return BusinessHours(tuple(ranges), zone)


def _weekdays(spec: str, name: str) -> frozenset[int]:
    first, _, last = spec.partition("-")
    unknown = [d for d in (first, last) if d and d not in WEEKDAYS]
    if unknown:
        raise SettingsError(
            f"{name}: {unknown[0]!r} is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat, Sun"
        )
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if end < start:
        raise SettingsError(
            f"{name}: {spec!r} runs backwards; write weekday ranges Monday first, e.g. Mon-Fri"
        )
    return frozenset(range(start, end + 1))


def _minute(clock: str, name: str) -> int:
    hours, minutes = (int(x) for x in clock.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise SettingsError(f"{name}: {clock!r} is not a time of day; use 00:00 to 24:00")
    return hours * 60 + minutes


@dataclass(frozen=True)
class SlaSettings:
    """The SLA targets and business hours, shared by the bridge and the dashboard."""

    claim_target: timedelta
    first_reply_target: timedelta
    hours: BusinessHours

    @classmethod
    def around_the_clock_defaults(cls) -> SlaSettings:
        return cls.from_env(EnvReader(environ={}, dotenv={}))

    @classmethod
    def from_env(cls, env: EnvReader) -> SlaSettings:
        zone_name = env.string("SLA_TIMEZONE", "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"SLA_TIMEZONE={zone_name!r} is not a known time zone; set an IANA name like Europe/Berlin"
            ) from None
        return cls(
            claim_target=_target(env, "SLA_CLAIM_TARGET_MINUTES", 15),
            first_reply_target=_target(env, "SLA_FIRST_REPLY_TARGET_MINUTES", 30),
            hours=parse_business_hours(env.string("SLA_BUSINESS_HOURS", ""), zone),
        )


def _target(env: EnvReader, name: str, default_minutes: float) -> timedelta:
    minutes = env.number(name, default_minutes)
    if minutes <= 0:
        raise SettingsError(
            f"{name}={minutes:g} is not a target; set the minutes, more than 0, "
            f"e.g. {default_minutes}"
        )
    return timedelta(minutes=minutes)


# --- A record's clocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    name: ClockName
    target: timedelta
    elapsed: timedelta
    state: ClockState
    running: bool
    # The instant the target passes (or passed); None if the schedule never reaches it.
    due_at: datetime | None
    # What stopped the clock: "claimed", "replied", "returned", "resolved"; None while running.
    stopped_by: str | None

    @property
    def breached(self) -> bool:
        return self.state == "breached"


@dataclass(frozen=True)
class SlaView:
    claim: Clock
    first_reply: Clock
    business_hours_only: bool = False

    @property
    def worst(self) -> ClockState:
        states = (self.claim.state, self.first_reply.state)
        return "breached" if "breached" in states else "due_soon" if "due_soon" in states else "ok"


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clock(
    name: ClockName,
    target: timedelta,
    hours: BusinessHours,
    requested: datetime,
    stops: list[tuple[datetime | None, str]],
    now: datetime,
) -> Clock:
    happened = [(at, why) for at, why in stops if at is not None and at <= now]
    stop_at, stopped_by = min(happened, key=lambda s: s[0]) if happened else (now, None)
    elapsed = hours.elapsed(requested, max(stop_at, requested))
    if elapsed >= target:
        state: ClockState = "breached"
    elif stopped_by is None and elapsed >= target * DUE_SOON_SHARE:
        state = "due_soon"
    else:
        state = "ok"
    return Clock(
        name,
        target,
        elapsed,
        state,
        stopped_by is None,
        hours.deadline(requested, target),
        stopped_by,
    )


def _stops(record: Mapping[str, Any]) -> dict[str, datetime | None]:
    """The instants that stop the clocks, by what they are."""
    return {
        # Records written before `first_claimed_at` existed kept the first claim in `claimed_at`.
        "claimed": parse_instant(record.get("first_claimed_at") or record.get("claimed_at")),
        "replied": parse_instant(record.get("first_human_reply_at")),
        "returned": parse_instant(record.get("returned_at")),
        "resolved": parse_instant(record.get("resolved_at")),
    }


def sla_view(record: Mapping[str, Any], settings: SlaSettings, now: datetime) -> SlaView | None:
    """Both clocks of a handoff record at `now`; None if the record has no handoff time."""
    requested = parse_instant(record.get("requested_at"))
    if requested is None:
        return None
    stops = _stops(record)
    ended = [(stops["returned"], "returned"), (stops["resolved"], "resolved")]
    claimed, replied = stops["claimed"], stops["replied"]
    hours = settings.hours
    return SlaView(
        claim=_clock(
            "claim", settings.claim_target, hours, requested, [(claimed, "claimed"), *ended], now
        ),
        first_reply=_clock(
            "first_reply",
            settings.first_reply_target,
            hours,
            requested,
            [(replied, "replied"), *ended],
            now,
        ),
        business_hours_only=not hours.around_the_clock,
    )


@dataclass(frozen=True)
class NextChanges:
    """When a handoff's SLA picture next changes with no change to its record."""

    # The SLA line (`display_key`) reads differently: a display step, due soon, breached.
    line: datetime | None
    # A clock passes its target: a reminder or breach notice may fall due.
    notice: datetime | None


def next_changes(record: Mapping[str, Any], settings: SlaSettings, now: datetime) -> NextChanges:
    """The next instants after `now` at which the clocks alone change what a view shows, so
    a follower of many handoffs looks at each one when it changes instead of polling all."""
    requested = parse_instant(record.get("requested_at"))
    view = sla_view(record, settings, now)
    if requested is None or view is None:
        return NextChanges(None, None)
    stops = _stops(record)
    ends = [stops["returned"], stops["resolved"]]
    own_stops = {"claim": [stops["claimed"], *ends], "first_reply": [stops["replied"], *ends]}
    line: list[datetime] = []
    notice: list[datetime] = []
    for clock in (view.claim, view.first_reply):
        if not clock.running:
            continue
        # A stop written with a timestamp ahead of `now` (another machine's clock) stops the
        # clock when that instant comes.
        ahead = [at for at in own_stops[clock.name] if at is not None and at > now]
        line += ahead
        notice += ahead
        thresholds = [shown_elapsed(clock) + display_step(clock.elapsed)]
        thresholds += [
            clock.target * share
            for share in (DUE_SOON_SHARE, 1.0)
            if clock.target * share > clock.elapsed
        ]
        at = settings.hours.deadline(requested, min(thresholds))
        if at is not None:
            line.append(at)
        if not clock.breached and clock.due_at is not None:
            notice.append(clock.due_at)
    return NextChanges(min(line, default=None), min(notice, default=None))


def display_step(elapsed: timedelta) -> timedelta:
    """How coarsely a running clock is shown: whole minutes first, then 5, then 15 minutes."""
    if elapsed < timedelta(minutes=10):
        return timedelta(minutes=1)
    if elapsed < timedelta(hours=1):
        return timedelta(minutes=5)
    return timedelta(minutes=15)


def shown_elapsed(clock: Clock) -> timedelta:
    """The elapsed time as displayed: a running clock rounded down to its display step."""
    if not clock.running:
        return clock.elapsed
    step = display_step(clock.elapsed)
    return step * (clock.elapsed // step)


def display_key(view: SlaView) -> str:
    """Changes exactly when what a view shows changes, so the bridge rewrites no more than that."""
    return "|".join(
        f"{c.name}:{c.state}:{c.running}:{int(shown_elapsed(c).total_seconds())}"
        for c in (view.claim, view.first_reply)
    )


def format_minutes(span: timedelta) -> str:
    """A duration for people: "45 s", "12 min", "2 h 05 min", "3 d 4 h"."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


CLOCK_LABELS: Mapping[ClockName, str] = {"claim": "Claim", "first_reply": "First reply"}
STATE_LABELS: Mapping[ClockState, str] = {
    "ok": "on time",
    "due_soon": "due soon",
    "breached": "breached",
}
