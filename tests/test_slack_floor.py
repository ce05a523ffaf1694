"""The busy-hour bench's floor: an ideal bridge under one post a second, checked by hand."""

from __future__ import annotations

import pytest

from bench.slack_floor import Arrival, ideal_waits


def test_a_thread_posts_everything_it_has_waiting_in_one_slot() -> None:
    waits = ideal_waits(
        [Arrival("a", 0.0)], [Arrival("a", 0.5), Arrival("a", 0.6), Arrival("a", 5.0)]
    )
    assert waits == pytest.approx([0.5, 0.4, 0.0])


def test_the_oldest_waiting_thread_goes_first_one_post_a_second() -> None:
    roots = [Arrival(t, 0.0) for t in "abc"]
    messages = [Arrival("c", 0.3), Arrival("a", 0.1), Arrival("b", 0.2)]
    # roots at 0, 1 and 2; then a at 3, b at 4, c at 5
    assert ideal_waits(roots, messages) == pytest.approx([4.7, 2.9, 3.8])


def test_a_root_goes_before_waiting_messages_and_its_thread_waits_for_it() -> None:
    roots = [Arrival("a", 0.0), Arrival("b", 1.0)]
    messages = [Arrival("a", 0.5), Arrival("b", 0.9)]
    # a's root at 0; at 1 b's root outranks a's message; a at 2; b at 3
    assert ideal_waits(roots, messages) == pytest.approx([1.5, 2.1])


def test_a_message_without_a_root_is_left_out() -> None:
    assert ideal_waits([Arrival("a", 0.0)], [Arrival("x", 0.5), Arrival("a", 2.0)]) == [0.0]


def test_a_larger_allowance_shortens_the_waits() -> None:
    roots = [Arrival(t, 0.0) for t in "ab"]
    messages = [Arrival("a", 0.0), Arrival("b", 0.0)]
    # roots at 0 and 0.5; a at 1.0; b at 1.5
    assert ideal_waits(roots, messages, posts_per_second=2) == pytest.approx([1.0, 1.5])


def test_coalescing_keeps_a_saturated_channels_wait_at_one_round_of_its_threads() -> None:
    threads = [f"t{i}" for i in range(10)]
    roots = [Arrival(t, 0.0) for t in threads]
    messages = [
        Arrival(t, 10.0 + 0.5 * k + i / 100) for k in range(40) for i, t in enumerate(threads)
    ]
    waits = ideal_waits(roots, messages)
    assert len(waits) == len(messages)
    # ten threads each writing every 0.5 s: each is served once every 10 s, never later
    assert max(waits) <= 10.0 + 1e-9
    assert max(waits) > 9.0
