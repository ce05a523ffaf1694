"""Which span of a thread's history the outbox reads for replies a silent replica may have
swallowed (slack_bridge/replica_watch.py `history_window`): pure."""

from __future__ import annotations

from config.env import EnvReader
from slack_bridge.replica_watch import (
    CLOCK_MARGIN_S,
    LOOKBACK_S,
    RESEND_HORIZON_S,
    STALE_S,
    history_window,
)
from slack_bridge.settings import BridgeSettings


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


def test_a_replica_dead_within_the_default_settling_window_is_silent_by_its_end() -> None:
    """A replica that died holding an earlier reply as a reply was taken in was last seen
    then at the latest; by the end of the settling window it must be unseen for STALE_S, or
    its reply is not read from the thread's history and reaches the customer late."""
    window = BridgeSettings.from_env(EnvReader(environ={}, dotenv={})).reply_settle_s
    assert window > STALE_S
