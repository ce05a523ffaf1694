"""The suite's agents and bridges are forked from a pre-loaded process (tests/support/forks.py):
each must still be its own `python -m agent`, configured by its own environment."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support import forks
from tests.support.agent_process import AgentProcess


def test_forked_agents_each_use_their_own_home_and_report_how_they_ended(
    tmp_path: Path,
) -> None:
    if forks.server is None:
        pytest.skip("TESTS_EXEC=1: agents are exec'd, not forked")
    first = AgentProcess(home=tmp_path / "first" / "parlant").start()
    second = AgentProcess(home=tmp_path / "second" / "parlant").start()
    try:
        assert isinstance(first.process, forks.ForkedProcess)
        assert first.process.pid != second.process.pid
        # parlant.bin.server reads PARLANT_HOME when imported: imported in the child, after
        # its environment was set, each writes its log in its own home.
        for agent in (first, second):
            log = (agent.home / "parlant.log").read_text()
            assert f"Using home directory '{agent.home}'" in log
        assert str(second.home) not in (first.home / "parlant.log").read_text()
        process = first.process
        first.stop(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        assert process.poll() == -signal.SIGKILL
    finally:
        first.stop()
        second.stop()
