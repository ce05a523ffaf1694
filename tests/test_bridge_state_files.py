"""The bridge's state (its outbox holds operators' replies) is its owner's only, whoever starts
it: `python -m slack_bridge` on its own, under a umask that lets everyone read new files."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slack_bridge.store.sqlite import SQLiteBridgeStore
from tests.fakes.fake_slack import FakeSlack, FakeSlackThread
from tests.support.agent_process import free_port
from tests.support.bridge_process import BridgeProcess
from tests.support.slack_world import slack_env

OPEN_UMASK = 0o022


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(OPEN_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_store_creates_its_file_0600_in_a_directory_0700(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "state" / "bridge.sqlite3"
    store = SQLiteBridgeStore(path)
    try:
        store._db.execute("CREATE TABLE IF NOT EXISTS probe (x)")  # the WAL exists now
        files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]
        assert {f.name for f in files} >= {path.name, f"{path.name}-wal", f"{path.name}-shm"}
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(path.parent) == 0o700
    finally:
        store.close()


def test_an_existing_readable_state_file_is_made_0600(tmp_path: Path, open_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    path = shared / "bridge.sqlite3"
    SQLiteBridgeStore(path).close()
    path.chmod(0o644)
    SQLiteBridgeStore(path).close()
    assert mode(path) == 0o600
    assert mode(shared) == 0o755  # a directory that existed keeps its mode: it may be shared


def test_python_m_slack_bridge_alone_keeps_its_state_private(tmp_path: Path) -> None:

    slack: FakeSlackThread = FakeSlack().run_in_thread()
    state = tmp_path / "bridge" / "state" / "bridge.sqlite3"
    try:
        channel = slack.call(slack.fake.add_channel, "escalations", members=[])
        env = {
            **slack_env(slack, channel, "http"),
            "PARLANT_URL": f"http://127.0.0.1:{free_port()}",  # nothing there; not needed
            "BRIDGE_STATE_PATH": str(state),
        }
        bridge = BridgeProcess(tmp_path / "bridge", env, ready=state.exists)
        bridge.start()
        try:
            time.sleep(0.5)
            assert mode(state) == 0o600
            assert mode(state.parent) == 0o700
        finally:
            bridge.stop()
    finally:
        slack.stop()
