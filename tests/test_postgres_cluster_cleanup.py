"""A test run stopped without its teardown (SIGTERM to `make test`, SIGKILL) leaves no
PostgreSQL cluster running: tests/support/postgres.py's watchdog stops it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.agent_process import REPO_ROOT
from tests.support.postgres import postgres_bin_dir
from tests.support.waits import eventually

START_A_CLUSTER = """
import json, sys, time
from tests.support.postgres import PostgresCluster, postgres_bin_dir
cluster = PostgresCluster(postgres_bin_dir()).start()
print(json.dumps({"port": cluster.port, "directory": str(cluster.directory)}), flush=True)
time.sleep(600)
"""


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_test_process_leaves_no_cluster_running(stop_with: signal.Signals) -> None:
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (scripts/ensure_postgres.sh installs it)")
    process = subprocess.Popen(
        [sys.executable, "-c", START_A_CLUSTER],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    started = json.loads(process.stdout.readline())
    assert answers(started["port"])
    process.send_signal(stop_with)
    process.wait(timeout=10)
    eventually(lambda: not answers(started["port"]), timeout=30, what="the cluster stopped")
    eventually(
        lambda: not Path(started["directory"]).exists(), timeout=10, what="its directory gone"
    )
