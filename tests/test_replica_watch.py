"""Which span of a thread's history the outbox reads for replies a silent replica may have
swallowed (slack_bridge/replica_watch.py `history_window`): pure."""

from __future__ import annotations

from slack_bridge.replica_watch import CLOCK_MARGIN_S, LOOKBACK_S, RESEND_HORIZON_S, history_window


def test_nothing_is_read_while_no_replica_is_silent() -> None:
    assert history_window(1000.0, None, []) is None
    assert history_window(1000.0, 900.0, []) is None


def test_the_span_covers_what_the_silent_replica_was_handed_before_it_went_quiet() -> None:
    oldest, latest = history_window(1000.0, None, [999.0]) or (0.0, 0.0)
    assert latest == 1000.0
    assert oldest == 999.0 - LOOKBACK_S - CLOCK_MARGIN_S
    # Two silent replicas: from the earlier one's quiet.
    assert history_window(1000.0, None, [999.0, 995.0]) == (
        995.0 - LOOKBACK_S - CLOCK_MARGIN_S,
        1000.0,
    )


def test_a_thread_read_past_a_replicas_last_heartbeat_is_not_read_again_for_it() -> None:
    # Read up to 1000 already; the replica went quiet at 995: nothing new can come from it.
    assert history_window(1005.0, 1000.0, [995.0]) is None
    # Quiet just before the read (within the clock margin): read again, from the last read.
    assert history_window(1005.0, 1000.0, [999.0]) == (1000.0, 1005.0)


def test_a_reply_older_than_the_span_reads_nothing() -> None:
    assert history_window(1000.0, 1000.0, [999.5]) is None


def test_a_reply_written_well_after_a_replica_went_quiet_reads_nothing() -> None:
    # Slack re-sent what the quiet replica held long before this reply was written.
    assert history_window(1000.0 + RESEND_HORIZON_S + CLOCK_MARGIN_S, None, [1000.0]) is None
    assert history_window(1005.0, None, [1000.0]) is not None
