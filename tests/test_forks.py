"""The suite's agents and bridges are forked from a pre-loaded process (tests/support/forks.py):
each must still be its own `python -m agent`, configured by its own environment."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support import forks
from tests.support.agent_process import AgentProcess
from tests.support.dashboard_process import running_dashboard


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


def test_a_forked_dashboards_exec_of_streamlit_runs_in_place(tmp_path: Path) -> None:
    """`python -m dashboard` ends in `os.execv(python -m dashboard.serve)`; a real exec would
    throw the pre-loaded Streamlit away, so the forked child runs it in place: same process,
    still the fork server's command line, Streamlit serving."""
    if forks.server is None:
        pytest.skip("TESTS_EXEC=1: dashboards are exec'd, not forked")
    with running_dashboard("http://127.0.0.1:9", tmp_path, {}) as dashboard:
        command = Path(f"/proc/{dashboard.pid}/cmdline").read_bytes().split(b"\0")
        assert b"tests.support.forks" in command
        assert b"dashboard.serve" not in command
        assert "URL: http://127.0.0.1" in dashboard.log_path.read_text()
