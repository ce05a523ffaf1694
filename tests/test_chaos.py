"""The randomized fault run (tests/support/chaos.py), one short seed: PostgreSQL, two agents
behind HAProxy, two Socket Mode bridges, the fake Slack re-sending unacknowledged envelopes to
the other connection; customers and operators writing while replicas are SIGKILLed and
started again. `make chaos` runs many longer seeds and prints the checker's table
(docs/replicas.md, Chaos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import ChaosSettings, describe, run_seed
from tests.support.chaos_check import format_table
from tests.support.haproxy import haproxy_binary
from tests.support.postgres import postgres_bin_dir


def test_a_short_seed_loses_doubles_and_reorders_nothing(tmp_path: Path) -> None:
    if haproxy_binary() is None or postgres_bin_dir() is None:
        pytest.skip("HAProxy and PostgreSQL are needed (scripts/ensure_*.sh install them)")
    result = run_seed(
        ChaosSettings(
            seed=7,
            customers=3,
            load_s=15.0,
            lease_s=3.0,
            fault_gap_s=(2.0, 4.0),
            down_s=(0.5, 2.0),
            drain_s=40.0,
            workdir=tmp_path,
        )
    )
    print("\n" + format_table([result.row()]))
    assert result.history.disruptions, "the nemesis did nothing"
    assert result.verdict.acknowledged > 0 and result.verdict.replies > 0
    assert result.verdict.ok, describe(result)
