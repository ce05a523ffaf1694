"""Two real agent processes on one PostgreSQL database act as one agent (real HTTP, real server).

A long poll waiting on replica A wakes for an event written through replica B: B's write sends
a notification in its transaction, A's listening connection hears it. Nothing polls the store.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from parlant.client import ParlantClient
from parlant.client.types import Participant

from agent.session_listener import SAFETY_RECHECK_S
from tests.support import forks
from tests.support.agent_process import REPO_ROOT, AgentProcess
from tests.support.chat import AGENT_ID, new_session, say, wait_for_ai_reply


@pytest.fixture(scope="module")
def replicas(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, AgentProcess]]:
    started: list[AgentProcess] = []
    try:
        for name in ("a", "b"):
            home = tmp_path_factory.mktemp(f"replica-{name}") / "parlant"
            process = AgentProcess(home=home, extra_env={"PARLANT_SESSION_STORE": postgres_url})
            started.append(process.start())
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


def test_a_session_made_on_one_replica_is_served_by_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = (ParlantClient(base_url=r.url) for r in replicas)
    session = new_session(a)
    offset = say(b, session, "What does my policy cover?")
    reply = wait_for_ai_reply(a, session, offset)
    assert "POL-1001" in reply.data["message"]
    assert b.sessions.retrieve(session).agent_id == AGENT_ID
    assert [e.offset for e in b.sessions.list_events(session, kinds="message")] == [
        e.offset for e in a.sessions.list_events(session, kinds="message")
    ]


def test_a_long_poll_on_one_replica_wakes_for_an_event_written_through_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = (ParlantClient(base_url=r.url) for r in replicas)
    session = new_session(a)
    written_at: list[float] = []

    def write_through_b() -> None:
        time.sleep(1.0)  # the poll on A is waiting by then
        b.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="from replica b",
            participant=Participant(id="op", display_name="Operator"),
        )
        written_at.append(time.monotonic())

    writer = threading.Thread(target=write_through_b)
    started = time.monotonic()
    writer.start()
    events = a.sessions.list_events(session, min_offset=0, wait_for_data=30)
    woke_at = time.monotonic()
    writer.join()
    assert [e.data["message"] for e in events] == ["from replica b"]
    # Woken by the notification, long before A's slow safety re-check would have looked.
    assert woke_at - started < SAFETY_RECHECK_S
    assert woke_at - written_at[0] < 1.5


def test_events_written_at_once_through_both_replicas_get_distinct_contiguous_offsets(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    """Operators' messages into one session through both replicas at once (as a customer's
    message and an operator's reply met in the issue): Parlant's read-last-offset-then-write
    raced across the processes and two events got one offset, which the bridge's mirror cursor
    then skipped. Each replica's answer must name the offset it stored."""
    clients = [ParlantClient(base_url=r.url) for r in replicas]
    session = new_session(clients[0])
    start = len(clients[0].sessions.list_events(session, wait_for_data=0))
    returned: list[int] = []
    lock = threading.Lock()

    def write(replica: int) -> None:
        for n in range(15):
            event = clients[replica].sessions.create_event(
                session,
                kind="message",
                source="human_agent",
                message=f"replica {replica} message {n}",
                participant=Participant(id="op", display_name="Operator"),
            )
            with lock:
                returned.append(event.offset)

    writers = [threading.Thread(target=write, args=(n,)) for n in (0, 0, 1, 1)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stored = [e.offset for e in clients[1].sessions.list_events(session, wait_for_data=0)]
    assert sorted(stored) == list(range(start + 60))
    assert sorted(returned) == list(range(start, start + 60))


def test_a_claim_filed_through_one_replica_is_listed_by_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = (ParlantClient(base_url=r.url) for r in replicas)
    session = new_session(a)
    wait_for_ai_reply(a, session, say(a, session, "I want to file a claim"))
    # The journey's next turn runs on B: the session and its journey state are shared.
    described = say(b, session, "A delivery van hit my parked car on Elm Street this morning")
    confirmation = wait_for_ai_reply(b, session, described)
    claim_id = next(w for w in confirmation.data["message"].split() if w.startswith("CLM-"))
    claim_id = claim_id.strip(".,;:()")

    listing = new_session(a)
    reply = wait_for_ai_reply(a, listing, say(a, listing, "What are my open claims?"))
    assert claim_id in reply.data["message"]
    assert "CLM-0001" in reply.data["message"]


def test_a_canned_reply_saved_through_one_replica_is_filled_by_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = replicas
    saved = httpx.post(
        f"{a.url}/escalations/canned-replies",
        json={"title": "Replica check", "body": "Hi {first_name}, {policy_number}."},
        timeout=30,
    )
    assert saved.status_code == 201, saved.text
    reply_id = saved.json()["id"]
    listed = httpx.get(f"{b.url}/escalations/canned-replies", params={"q": "replica"}, timeout=30)
    assert [r["id"] for r in listed.json()["items"]] == [reply_id]
    client = ParlantClient(base_url=a.url)
    session = new_session(client)
    wait_for_ai_reply(client, session, say(client, session, "I want to talk to a human"))
    filled = httpx.get(f"{b.url}/escalations/{session}/canned-replies/{reply_id}", timeout=30)
    assert filled.json()["text"] == "Hi Sam, POL-1001."
    assert (
        httpx.delete(f"{b.url}/escalations/canned-replies/{reply_id}", timeout=30).status_code
        == 204
    )
    assert (
        httpx.get(f"{a.url}/escalations/canned-replies/{reply_id}", timeout=30).status_code == 404
    )


def test_both_replicas_are_ready_with_their_stores_on_postgresql(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    for replica in replicas:
        assert httpx.get(f"{replica.url}/readyz", timeout=10).status_code == 200


def test_the_replicas_logs_name_postgresql_and_no_password(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    for replica in replicas:
        log = Path(replica.log_path).read_text()
        assert "sessions and customers on PostgreSQL" in log
        assert "postgresql://" not in log


@pytest.mark.parametrize("target", ["unreachable", "missing database"])
def test_a_replica_that_cannot_reach_its_database_stops_with_one_line(
    target: str, postgres_url: str, tmp_path: Path
) -> None:
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    url = {
        "unreachable": "postgresql://agent:secret-password@127.0.0.1:1/support",
        "missing database": f"postgresql://postgres:secret-password@127.0.0.1:{port}/nowhere",
    }[target]
    process = AgentProcess(home=tmp_path / "parlant", extra_env={"PARLANT_SESSION_STORE": url})
    started = time.monotonic()
    done = forks.run("agent", cwd=REPO_ROOT, env=process.env())
    assert done.returncode == 4
    assert time.monotonic() - started < 30  # not a pool's time-out deep in the start
    (line,) = [ln for ln in done.stderr.splitlines() if "session store check failed" in ln]
    assert "PARLANT_SESSION_STORE" in line and "127.0.0.1:" in line
    assert "secret-password" not in done.stderr + done.stdout


def test_a_turn_cut_by_its_replicas_death_is_answered_by_the_other(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    """Parlant runs a session's AI turn in the process that received the message: a replica
    killed mid-turn left the customer's message unanswered until they wrote again. The turn's
    lease (agent/turn_lease.py) expires and the survivor runs it. Last in the module: it kills
    replica A (and starts it again)."""
    a_process = replicas[0]
    a, b = (ParlantClient(base_url=r.url) for r in replicas)
    try:
        for _ in range(3):
            session = new_session(b)
            offset = say(a, session, "What does my policy cover?")
            a_process.stop(signal.SIGKILL)
            answered_before = [
                e
                for e in b.sessions.list_events(
                    session, min_offset=offset + 1, kinds="message", wait_for_data=0
                )
                if e.source == "ai_agent"
            ]
            if not answered_before:
                break
            a_process.start()  # it answered before it died: try again
        else:
            pytest.skip("replica A answered before every SIGKILL")
        reply = wait_for_ai_reply(b, session, offset, timeout=60)
        assert "POL-1001" in reply.data["message"]
        ai_messages = [
            e
            for e in b.sessions.list_events(session, kinds="message", wait_for_data=0)
            if e.source == "ai_agent"
        ]
        assert len(ai_messages) == 1
    finally:
        if a_process.process is None:
            a_process.start()
