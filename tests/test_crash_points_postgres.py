"""The crash-point cases of test_crash_points.py with the bridge's state on PostgreSQL.

The real bridge process keeps its state in a throwaway PostgreSQL database (BRIDGE_STATE_URL)
and dies at the points where Slack or Parlant accepted something the state does not record
yet, one per pipeline; restarted, it neither loses, doubles nor reorders anything. The
restarted process keeps its replica id (BRIDGE_REPLICA_ID, as a deployment with one stable
name per replica would), so it takes its sessions' leases back at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresCluster
from tests.support.slack_world import SlackWorld, start_world, stop_world
from tests.test_crash_points import CASES

DATABASE = "bridge_crash"
POINTS = ("mirror.after_post", "outbox.after_send", "root.after_post", "sla.after_post")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: PostgresCluster
) -> Iterator[SlackWorld]:
    url = postgres_cluster.create_database(DATABASE)
    setup = start_world(
        "http",
        tmp_path_factory.mktemp("crash-pg"),
        supervisor_channel=True,
        extra_env={"BRIDGE_STATE_URL": url, "BRIDGE_REPLICA_ID": "bridge-1"},
    )
    yield setup
    stop_world(setup)


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_with_the_state_on_postgresql_loses_doubles_and_reorders_nothing(
    world: SlackWorld, point: str, postgres_cluster: PostgresCluster
) -> None:
    CASES[point.split(".")[0]](world, point)
    # The state is in PostgreSQL, not in a file the bridge fell back to.
    assert int(postgres_cluster.psql("SELECT count(*) FROM bridge_threads", DATABASE)) > 0
    assert not (world.bridge.workdir / "bridge-state.sqlite3").exists()
