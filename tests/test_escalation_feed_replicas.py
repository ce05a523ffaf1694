"""The escalation feed across two real agent replicas on one PostgreSQL database (real HTTP).

A feed long poll on replica A wakes for an event written through replica B (B's transaction
notifies, A's listening connection hears it; nothing polls the store). Writers on both replicas
at once never make a follower of A's feed miss or repeat an event: positions are given out, and
become visible, in commit order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from parlant.client import ParlantClient
from parlant.client.types import SessionMetadataUpdateParams

from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session


@pytest.fixture(scope="module")
def replicas(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AgentProcess, AgentProcess]]:
    started: list[AgentProcess] = []
    try:
        for name in ("a", "b"):
            home = tmp_path_factory.mktemp(f"feed-replica-{name}") / "parlant"
            process = AgentProcess(home=home, extra_env={"PARLANT_SESSION_STORE": postgres_url})
            started.append(process.start())
        yield started[0], started[1]
    finally:
        for process in started:
            process.stop()


def _feed(agent: AgentProcess, after: int, wait: int = 0, limit: int = 1000) -> Any:
    answer = httpx.get(
        f"{agent.url}/escalations/feed",
        params={"after": after, "wait_for_data": wait, "limit": limit},
        timeout=wait + 30,
    )
    answer.raise_for_status()
    return answer.json()


def _open_session(client: ParlantClient, status: str = "waiting", manual: bool = False) -> str:
    """A session in handoff; `manual` as the handoff tool leaves it (the customer's messages
    then start no AI turn)."""
    session = new_session(client)
    record = {"status": status, "requested_at": "2026-01-01T00:00:00+00:00"}
    client.sessions.update(session, metadata=SessionMetadataUpdateParams(set_={"handoff": record}))
    if manual:
        client.sessions.update(session, mode="manual")
    return session


def _say(client: ParlantClient, session: str, text: str) -> Any:
    return client.sessions.create_event(session, kind="message", source="customer", message=text)


def test_a_write_through_b_wakes_a_feed_long_poll_on_a(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = replicas
    client_b = ParlantClient(base_url=b.url)
    session = _open_session(client_b)
    head = _feed(a, 0)["head"]
    written_at: list[float] = []

    def write_through_b() -> None:
        time.sleep(1.0)  # A's long poll is waiting by then
        _say(client_b, session, "written through b")
        written_at.append(time.monotonic())

    writer = threading.Thread(target=write_through_b)
    writer.start()
    answer = _feed(a, head, wait=30)
    woke_at = time.monotonic()
    writer.join()
    # The AI answers the message on B, so its status events may follow in the same answer
    # when A reads late; the message is first all the same.
    first = answer["events"][0]
    assert (first["kind"], first["source"], first["session_id"]) == ("message", "customer", session)
    assert first["data"]["message"] == "written through b"
    messages = [e for e in answer["events"] if e["kind"] == "message" and e["source"] == "customer"]
    assert len(messages) == 1
    assert woke_at - written_at[0] < 2.0, "woken by the notification, not by a timeout"


def test_concurrent_writers_on_both_replicas_leave_no_gap_for_a_follower(
    replicas: tuple[AgentProcess, AgentProcess], postgres_url: str
) -> None:
    a, b = replicas
    clients = [ParlantClient(base_url=a.url), ParlantClient(base_url=b.url)]
    # In manual mode: the writers' 90 messages are the concurrent writes under test; an AI
    # turn for each (on two agents sharing two cores with the suite) made this test take
    # minutes and added nothing the feed does not see from the writers themselves.
    sessions = [_open_session(clients[n % 2], manual=True) for n in range(6)]
    cursor = _feed(a, 0)["head"]
    writers_done = threading.Event()
    written: list[str] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        client = clients[n % 2]
        for i in range(15):
            event = _say(client, sessions[(n + i) % len(sessions)], f"w{n}-{i}")
            with lock:
                written.append(event.id)

    seen: list[dict[str, Any]] = []

    def follow() -> None:
        nonlocal cursor
        # A small page, so the follower reads while the writers are still committing.
        while True:
            page = _feed(a, cursor, wait=1, limit=7)
            seen.extend(page["events"])
            cursor = page["next"]
            if writers_done.is_set() and not page["events"] and cursor >= page["head"]:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    follower.join(timeout=60)
    assert not follower.is_alive()

    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert set(written) <= set(ids), "the follower missed an event"
    positions = [e["position"] for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # Gap-free: every event ever written has a position, and they are 1..n with none skipped.
    with psycopg.connect(postgres_url) as connection:
        stored = [
            p
            for (p,) in connection.execute(
                "SELECT feed_position FROM parlant_documents "
                "WHERE collection = 'sessions:events' ORDER BY seq"
            )
        ]
    assert None not in stored
    assert sorted(stored) == list(range(1, len(stored) + 1))


def test_a_session_resolved_through_b_leaves_a_feed_and_open_listing(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    a, b = replicas
    client_a, client_b = ParlantClient(base_url=a.url), ParlantClient(base_url=b.url)
    session = _open_session(client_a, status="claimed")
    listed = httpx.get(f"{a.url}/escalations/open", timeout=10).json()["items"]
    assert session in {s["id"] for s in listed}
    record = {"status": "resolved", "resolved_at": "2026-01-02T00:00:00+00:00"}
    client_b.sessions.update(
        session, metadata=SessionMetadataUpdateParams(set_={"handoff": record})
    )
    head = _feed(a, 0)["head"]
    _say(client_b, session, "after the resolve")
    answer = _feed(a, head, wait=1)
    assert answer["events"] == []
    assert answer["next"] > head  # walked past the event (and the AI's answer to it)
    listed = httpx.get(f"{a.url}/escalations/open", timeout=10).json()["items"]
    assert session not in {s["id"] for s in listed}


def test_one_slack_reply_posted_through_both_replicas_at_once_is_stored_once(
    replicas: tuple[AgentProcess, AgentProcess],
) -> None:
    """A bridge killed while its reply's POST is still inside an agent loses its outbox hold
    with its connection; another bridge finds no stored event yet and sends the reply again,
    and both POSTs stored it (the chaos run's doubled operator replies). The reply's Slack
    origin (channel, ts) is its key: a second POST of it returns the first one's event."""
    a, b = replicas
    session = _open_session(ParlantClient(base_url=a.url))
    body = {
        "as": "human",
        "message": "Dana here, once.",
        "operator": {"id": "slack:U1", "name": "Dana", "origin": "slack"},
        "metadata": {"slack": {"channel": "C1", "ts": "1700000000.000100", "user": "U1"}},
    }

    def post(replica: AgentProcess) -> httpx.Response:
        return httpx.post(f"{replica.url}/escalations/{session}/replies", json=body, timeout=30)

    for _ in range(3):  # at once, through both
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(post, (a, b, a, b)))
        assert [x.status_code for x in answers] == [201] * 4, [x.text for x in answers]
        assert len({x.json()["id"] for x in answers}) == 1
    stored = list(
        ParlantClient(base_url=b.url).sessions.list_events(
            session, source="human_agent", wait_for_data=0
        )
    )
    assert [e.data["message"] for e in stored] == ["Dana here, once."]
