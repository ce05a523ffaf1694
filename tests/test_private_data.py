"""Customers' data stays private on the agent's machine: a 0700 home, 0600 files, no card in INFO logs."""

from __future__ import annotations

import stat
from pathlib import Path

from parlant.client import ParlantClient

from handoff.packet import HANDOFF_TOOL, tool_name
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, tool_calls_after, wait_for_ai_reply

CARD = "4111 1111 1111 1111"


def test_handoff_reason_with_a_card_number_is_not_logged(
    agent: AgentProcess, client: ParlantClient
) -> None:
    session_id = new_session(client)
    offset = say(client, session_id, f"My card {CARD} was charged twice, I want to talk to a human")
    wait_for_ai_reply(client, session_id, offset)
    [call] = [
        c
        for c in tool_calls_after(client, session_id, offset)
        if tool_name(c["tool_id"]) == HANDOFF_TOOL
    ]
    assert CARD in call["arguments"]["reason"], (
        "the reason should quote the card for this test to mean something"
    )
    log_text = agent.log_path.read_text(encoding="utf-8", errors="replace")
    handoff_lines = [line for line in log_text.splitlines() if "handoff requested" in line]
    assert handoff_lines, "the handoff is logged"
    assert all(CARD not in line for line in handoff_lines)
    assert all("reason_chars=" in line for line in handoff_lines)


def test_home_is_private_and_its_files_owner_only(agent: AgentProcess, agent_home: Path) -> None:
    # The fixture created the home 0755 before the agent started: the agent tightens it.
    assert stat.S_IMODE(agent_home.stat().st_mode) == 0o700
    files = [path for path in agent_home.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".sqlite3") for path in files), [p.name for p in files]
    loose = {
        str(p.relative_to(agent_home)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in files
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}
