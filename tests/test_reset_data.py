"""`make reset-data` (python -m launcher.reset_data): conversations and claims go, the rest stays.

A real agent stores a conversation; with the agent running the reset is refused; stopped, the
reset deletes the stores (and the bridge's state) but keeps the operator token and Parlant's
caches; the agent started again on the same home has no sessions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from parlant.client import ParlantClient

from tests.support.agent_process import REPO_ROOT, AgentProcess
from tests.support.chat import new_session, say


def reset(agent: AgentProcess, bridge_state: Path) -> subprocess.CompletedProcess[str]:
    env = {**agent.env(), "BRIDGE_STATE_PATH": str(bridge_state)}
    return subprocess.run(
        [sys.executable, "-m", "launcher.reset_data", "--yes"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reset_deletes_the_data_and_keeps_the_token_and_caches(tmp_path: Path) -> None:
    home = tmp_path / "parlant"
    bridge_state = tmp_path / "bridge" / "state.sqlite3"
    bridge_state.parent.mkdir()
    bridge_state.write_bytes(b"bridge state")
    agent = AgentProcess(home=home).start()
    try:
        client = ParlantClient(base_url=agent.url)
        session = new_session(client)
        say(client, session, "What does my policy cover?")
        (home / "operator_token").write_text("kept-token-0123456789abcdef\n")
        refused = reset(agent, bridge_state)
        assert refused.returncode == 1
        assert f"port {agent.port}, PARLANT_PORT, is in use" in refused.stderr
        assert (home / "sessions.sqlite3").exists()
    finally:
        agent.stop()

    result = reset(agent, bridge_state)
    assert result.returncode == 0, result.stderr
    assert not bridge_state.exists()
    assert not list(home.glob("*.sqlite3*"))
    assert (home / "operator_token").read_text() == "kept-token-0123456789abcdef\n"
    assert (home / "evaluation_cache.json").exists()

    again = AgentProcess(home=home).start()
    try:
        client = ParlantClient(base_url=again.url)
        assert list(client.sessions.list()) == []
    finally:
        again.stop()
