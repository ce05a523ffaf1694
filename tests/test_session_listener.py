"""Long polls wake on a write instead of polling the store (real agent, real HTTP)."""

from __future__ import annotations

import threading
import time

from parlant.client import ParlantClient
from parlant.client.types import Participant

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session


def test_a_long_poll_wakes_when_its_session_gets_an_event(
    client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client)
    written_at: list[float] = []

    def write_later() -> None:
        time.sleep(1.0)
        writer = ParlantClient(base_url=agent.url)
        writer.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="wake up",
            participant=Participant(id="t", display_name="T"),
        )
        written_at.append(time.monotonic())

    thread = threading.Thread(target=write_later)
    thread.start()
    events = client.sessions.list_events(session, min_offset=0, wait_for_data=20)
    woke_at = time.monotonic()
    thread.join()
    assert [e.data["message"] for e in events] == ["wake up"]
    # Woken by the write, not by the 5 s safety re-check.
    assert woke_at - written_at[0] < 2.5
