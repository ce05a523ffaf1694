"""The agent's session stores under SIGKILL: every acknowledged event survives a crash (the
SQLite default, and PostgreSQL, where an acknowledged write must be a committed one)."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from parlant.client import ParlantClient
from parlant.client.types import Participant

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session

ROUNDS = 3


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crash_agent(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("crash") / "parlant"
    store = request.param if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    process = AgentProcess(home=home, extra_env={"PARLANT_SESSION_STORE": store}).start()
    yield process
    process.stop()


def write_until_killed(
    url: str, session_id: str, acknowledged: list[str], stop: threading.Event
) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        i = 0
        while not stop.is_set():
            try:
                response = http.post(
                    f"/sessions/{session_id}/events",
                    json={
                        "kind": "message",
                        "source": "human_agent",
                        "message": f"write {i}",
                        "participant": {"id": "crash-test", "display_name": "Crash Test"},
                    },
                )
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
            i += 1


def test_acknowledged_events_survive_sigkill(crash_agent: AgentProcess) -> None:
    for round_number in range(ROUNDS):
        client = ParlantClient(base_url=crash_agent.url)
        session = new_session(client)
        acknowledged: list[str] = []
        stop = threading.Event()
        writer = threading.Thread(
            target=write_until_killed, args=(crash_agent.url, session, acknowledged, stop)
        )
        writer.start()
        # Long enough for hundreds of acknowledged writes, at a random moment among them.
        time.sleep(random.uniform(0.4, 1.2))
        crash_agent.stop(sig=signal.SIGKILL)
        stop.set()
        writer.join()
        assert acknowledged, "no write was acknowledged before the kill"

        crash_agent.start()
        stored = {
            e.id
            for e in ParlantClient(base_url=crash_agent.url).sessions.list_events(
                session, wait_for_data=0
            )
        }
        missing = [event_id for event_id in acknowledged if event_id not in stored]
        assert not missing, f"round {round_number}: {len(missing)} acknowledged events lost"


def test_a_local_json_store_is_imported_once_on_switching_to_sqlite(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home: Path = tmp_path_factory.mktemp("switch") / "parlant"
    legacy = AgentProcess(home=home, extra_env={"PARLANT_SESSION_STORE": "local"}).start()
    try:
        client = ParlantClient(base_url=legacy.url)
        session = new_session(client)
        client.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="kept across the switch",
            participant=Participant(id="t", display_name="T"),
        )
        before = [(e.id, e.offset) for e in client.sessions.list_events(session, wait_for_data=0)]
    finally:
        legacy.stop()
    assert (home / "sessions.json").stat().st_size > 0

    for _ in range(2):  # the second start must not import (or duplicate) anything again
        switched = AgentProcess(home=home).start()
        try:
            after = ParlantClient(base_url=switched.url).sessions.list_events(
                session, wait_for_data=0
            )
            assert [(e.id, e.offset) for e in after] == before
        finally:
            switched.stop()
    assert (home / "sessions.sqlite3").exists()
