"""The chat.update budget: SLA-only rewrites stop at their share, status changes never wait."""

from __future__ import annotations

from slack_bridge.update_budget import UpdateBudget


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sla_ticks_stop_at_their_share_of_the_minute_and_resume_as_it_slides() -> None:
    clock = ManualClock()
    budget = UpdateBudget(per_minute=10, sla_share=0.5, clock=clock)
    assert [budget.try_sla_tick() for _ in range(7)] == [True] * 5 + [False] * 2
    clock.now += 59.9
    assert not budget.try_sla_tick()
    clock.now += 0.2
    assert budget.try_sla_tick()


def test_status_changes_always_go_and_use_up_the_sla_share() -> None:
    clock = ManualClock()
    budget = UpdateBudget(per_minute=10, sla_share=0.5, clock=clock)
    for _ in range(8):
        budget.status_change()
    assert not budget.try_sla_tick()
    clock.now += 61
    assert budget.try_sla_tick()


def test_room_and_the_wait_for_it_agree_with_what_the_window_takes() -> None:
    clock = ManualClock()
    budget = UpdateBudget(per_minute=10, sla_share=0.5, clock=clock)
    assert (budget.sla_room(), budget.seconds_until_room(5)) == (5, 0.0)
    for _ in range(5):  # one tick a second: the window holds 1000, 1001, ... 1004
        assert budget.try_sla_tick()
        clock.now += 1
    assert budget.sla_room() == 0
    # Three slots free when the third oldest tick leaves the window: 1002 + 60.
    assert budget.seconds_until_room(3) == 1002 + 60 - clock.now
    clock.now += budget.seconds_until_room(3)
    assert budget.sla_room() == 3 and budget.seconds_until_room(3) == 0.0
    # More than the share ever takes: no sooner than the window turns.
    assert budget.seconds_until_room(50) == 60.0
