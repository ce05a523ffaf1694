"""Two of everything: PostgreSQL, two agent replicas behind HAProxy, two bridge replicas, the
fake Slack; replicas are killed with SIGKILL mid-conversation and nothing is lost or doubled.

Every process is real: `python -m agent` twice on one database, Debian's HAProxy with the
configuration docs/replicas.md recommends, `python -m slack_bridge` twice in Socket Mode on one
shared state (BRIDGE_STATE_URL, the same database), the fake Slack Web API and Socket Mode
spreading events over both bridges' connections as Slack does. The customer is signed in (a
customer token) and talks only to HAProxy's address, as a browser would; the bridges reach
Parlant through HAProxy too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from parlant.client import ParlantClient
from parlant.client.types import Participant

from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.fakes import FakeSlack, FakeSlackThread
from tests.fakes.fake_slack import AckTimeout, Message
from tests.support.agent_process import AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.chat import AGENT_ID, say, wait_for_ai_reply
from tests.support.customers import (
    SIGNED_IN_ENV,
    customer_token,
    operator_client,
    token_client,
)
from tests.support.haproxy import Backend, LoadBalancer, haproxy_binary
from tests.support.postgres import PostgresCluster
from tests.support.slack_world import eventually, slack_env

CUSTOMER_KINDS = "message,status"


@dataclass
class Replicas:
    slack: FakeSlackThread
    channel: str
    operators: tuple[str, str]  # Slack user ids of Dana and Lee
    agents: dict[str, AgentProcess]
    balancer: LoadBalancer

    def roots_for(self, session_id: str) -> list[Message]:
        """The channel's top-level posts that open `session_id`'s handoff."""
        return [
            m
            for m in self.slack.call(self.slack.fake.messages, self.channel)
            if m.thread_ts is None
            and ((m.metadata or {}).get("event_payload") or {}).get("session_id") == session_id
        ]

    def serving(self) -> dict[str, int]:
        """Requests in flight on each replica, as HAProxy counts them."""
        return self.balancer.per_replica("scur")

    def revive(self, name: str) -> None:
        """Start a killed replica again, on its port, and wait until HAProxy sends to it."""
        self.agents[name].start()
        eventually(lambda: name in self.balancer.up_servers(), what=f"replica {name} back")

    def served(self) -> dict[str, int]:
        """Requests each replica has been sent so far (health checks not counted)."""
        return self.balancer.per_replica("stot")


@pytest.fixture(scope="module")
def replicas(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    if haproxy_binary() is None:
        pytest.skip("HAProxy is not installed (scripts/ensure_haproxy.sh installs it)")
    # Slack spreads Socket Mode events over the bridges' connections, each to one of them.
    slack = FakeSlack(spread_events=True).run_in_thread()
    agents: dict[str, AgentProcess] = {}
    balancer: LoadBalancer | None = None
    try:
        dana = slack.call(slack.fake.add_user, "dana", display_name="Dana")
        lee = slack.call(slack.fake.add_user, "lee", display_name="Lee")
        channel = slack.call(slack.fake.add_channel, "escalations", members=[dana, lee])
        env = {
            **slack_env(slack, channel, "http"),
            **SIGNED_IN_ENV,
            "PARLANT_SESSION_STORE": postgres_url,
            # HAProxy forwards the customer's address in X-Forwarded-For.
            "CUSTOMER_TRUSTED_PROXIES": "127.0.0.1",
        }
        root: Path = tmp_path_factory.mktemp("two-of-everything")
        for name in ("a", "b"):
            agents[name] = AgentProcess(home=root / name / "parlant", extra_env=env).start()
        balancer = LoadBalancer([Backend(n, a.port) for n, a in agents.items()]).start()
        yield Replicas(slack, channel, (dana, lee), agents, balancer)
    finally:
        if balancer is not None:
            balancer.stop()
        for agent in agents.values():
            agent.stop()
        slack.stop()


@pytest.fixture
def both(replicas: Replicas) -> Iterator[Replicas]:
    """The replicas, every one alive: any an earlier test killed is started again first."""
    for name, agent in replicas.agents.items():
        if agent.process is None:
            replicas.revive(name)
    yield replicas


class LongPoll(threading.Thread):
    """A customer's chat waiting for the next message, in the background, as the chat page
    does: long polls one after another (a status, e.g. `ready`, ends one) until a message."""

    def __init__(self, client: ParlantClient, session_id: str, after: int) -> None:
        super().__init__(daemon=True)
        self.client, self.session_id, self.after = client, session_id, after
        self.events: list[Any] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not any(e.kind == "message" for e in self.events):
                got = list(
                    self.client.sessions.list_events(
                        self.session_id,
                        min_offset=self.after + 1,
                        kinds=CUSTOMER_KINDS,
                        wait_for_data=30,
                    )
                )
                self.events += got
                self.after = max([self.after, *(e.offset for e in got)])
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error


def settled(client: ParlantClient, session_id: str) -> int:
    """The offset of the session's last event once its turn is over: the last event is a
    `ready` status and nothing follows it for a second (statuses trickle in after a reply)."""

    def last_ready() -> int | None:
        events = list(client.sessions.list_events(session_id, kinds=CUSTOMER_KINDS))
        last = events[-1]
        return (
            int(last.offset) if last.kind == "status" and last.data["status"] == "ready" else None
        )

    while True:
        offset: int = eventually(last_ready, what="the turn to end")
        time.sleep(1.0)
        if last_ready() == offset:
            return offset


def customer_asks(client: ParlantClient, session_id: str, text: str) -> str:
    answer = wait_for_ai_reply(
        client, session_id, say(client, session_id, text), kinds=CUSTOMER_KINDS
    )
    return str(answer.data["message"])


# -- two bridges --------------------------------------------------------------------------------

LEASE_S = 3.0  # BRIDGE_LEASE_SECONDS: short, so the takeover fits the test's time
DISCOVERY_S = 2.0  # slack_bridge.discovery.DISCOVERY_INTERVAL_S
BRIDGE_NAMES = ("bridge-a", "bridge-b")


@dataclass
class Bridges:
    replicas: Replicas
    processes: dict[str, BridgeProcess]
    state_url: str

    def lease_owner(self, session_id: str) -> str | None:
        """The replica holding the session's lease now (expired leases count as none)."""
        with psycopg.connect(self.state_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT owner FROM bridge_session_leases"
                " WHERE session_id = %s AND expires_at > now()",
                (session_id,),
            ).fetchone()
        return str(row[0]) if row else None

    def thread(self, root_ts: str) -> list[Message]:
        slack = self.replicas.slack
        return [
            m
            for m in slack.call(slack.fake.messages, self.replicas.channel, root_ts)
            if m.ts != root_ts
        ]

    def mirrored(self, root_ts: str, text: str) -> int:
        """How many thread posts carry the customer's `text`."""
        return sum(
            text in " ".join([m.text, json.dumps(m.blocks or [])]) for m in self.thread(root_ts)
        )

    def posted_at(self, root_ts: str, text: str) -> float:
        """When the fake Slack accepted the thread post carrying `text` (wall clock)."""
        slack = self.replicas.slack
        return min(
            call.time
            for call in slack.call(slack.fake.calls, "chat.postMessage")
            if call.params.get("thread_ts") == root_ts
            and (call.response or {}).get("ok")
            and text in json.dumps(call.params)
        )

    def operator_writes(self, user: str, text: str, root_ts: str) -> None:
        """An operator's thread reply, pushed as Slack does: to one bridge's connection, and
        again (same event id) if that connection does not acknowledge it."""
        slack = self.replicas.slack
        event = slack.call(
            slack.fake.add_user_message, self.replicas.channel, user, text, thread_ts=root_ts
        )
        event_id = f"Ev{time.time_ns()}"
        try:
            slack.run(slack.fake.push_event(event, event_id=event_id, timeout=3))
        except AckTimeout as lost:  # it went to the replica that was just killed
            slack.run(slack.fake.redeliver(lost.envelope, timeout=10))


@pytest.fixture
def bridges(both: Replicas, postgres_url: str, tmp_path: Path) -> Iterator[Bridges]:
    slack = both.slack
    env = {
        **slack_env(slack, both.channel, "socket"),
        **SIGNED_IN_ENV,
        "PARLANT_URL": both.balancer.url,  # the bridges reach Parlant through HAProxy too
        "BRIDGE_STATE_URL": postgres_url,
        "BRIDGE_LEASE_SECONDS": f"{LEASE_S:g}",
        # Operators' replies in the thread arrive a moment apart: the outbox's order window
        # stays at its default, as in production.
    }
    processes: dict[str, BridgeProcess] = {}
    try:
        for count, name in enumerate(BRIDGE_NAMES, start=1):
            processes[name] = BridgeProcess(
                workdir=tmp_path / name,
                env_overrides={**env, "BRIDGE_REPLICA_ID": name},
                ready=lambda count=count: slack.call(lambda: slack.fake.open_sockets) >= count,  # type: ignore[misc]
            ).start()
        yield Bridges(both, processes, postgres_url)
    finally:
        for process in processes.values():
            process.stop()


# -- the tests, the one that kills nothing first: an agent killed by a test is started again ----
# before the next one (fixture `both`), and each start costs seconds.


def test_one_pg_dump_taken_while_everything_runs_restores_sessions_and_the_bridges_state(
    bridges: Bridges, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    replicas = bridges.replicas
    sam = token_client(replicas.balancer.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"))
    session = sam.sessions.create(agent_id=AGENT_ID).id
    wait_for_ai_reply(
        sam, session, say(sam, session, "I want to talk to a human"), kinds=CUSTOMER_KINDS
    )
    (root,) = eventually(lambda: replicas.roots_for(session), what="the root message")
    say(sam, session, "a line to mirror before the backup")
    eventually(
        lambda: bridges.mirrored(root.ts, "a line to mirror before the backup"), what="the mirror"
    )

    dump = Path(postgres_cluster.directory) / f"{session}.dump"
    subprocess.run(
        [
            str(postgres_cluster.bin_dir / "pg_dump"),
            "--format=custom",
            f"--file={dump}",
            postgres_url,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    restored_url = postgres_cluster.create_database(f"restored_{os.getpid()}")
    subprocess.run(
        [
            str(postgres_cluster.bin_dir / "pg_restore"),
            "--no-owner",
            f"--dbname={restored_url}",
            str(dump),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )

    def session_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
        queries = {
            "events": "SELECT id FROM parlant_documents WHERE body->>'session_id' = %s ORDER BY seq",
            "thread": "SELECT channel, ts FROM bridge_threads WHERE session_id = %s",
            "cursor": "SELECT next_offset FROM bridge_cursors WHERE session_id = %s",
            "posts": "SELECT event_id, part, ts FROM bridge_mirror_posts WHERE session_id = %s ORDER BY 1, 2",
        }
        with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
            # One snapshot, as pg_dump reads one.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return {k: conn.execute(q, (session,)).fetchall() for k, q in queries.items()}

    restored = session_state(restored_url)
    live = session_state(postgres_url)
    assert restored["thread"] == [(replicas.channel, root.ts)]
    assert restored["events"] and restored["posts"] and restored["cursor"]
    # Nothing was written to this session after the mirror: the backup is the live state.
    assert restored == live


def test_a_replica_killed_mid_conversation_goes_unnoticed_by_the_customer(
    both: Replicas,
) -> None:
    replicas = both
    sam = token_client(replicas.balancer.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"))
    session = sam.sessions.create(agent_id=AGENT_ID).id
    assert "POL-1001" in customer_asks(sam, session, "What does my policy cover?")
    assert customer_asks(sam, session, "Thanks, and what is my deductible?")
    # Round robin: both replicas have served this conversation by now.
    assert all(count > 0 for count in replicas.served().values()), replicas.served()

    # The customer's chat waits for the next event; whichever replica holds that wait dies.
    poll = LongPoll(sam, session, settled(sam, session))
    before = replicas.serving()
    poll.start()
    holder = eventually(
        lambda: next((n for n, count in replicas.serving().items() if count > before[n]), None),
        what=f"the long poll in flight on one replica (in flight before: {before})",
    )
    survivor = next(n for n in replicas.agents if n != holder)
    replicas.agents[holder].stop(signal.SIGKILL)
    killed_at = time.monotonic()
    out_after = replicas.balancer.wait_down(holder)
    print(f"\nHAProxy took replica {holder} out {out_after:.2f}s after SIGKILL")

    # The cut long poll was re-sent to the survivor: it is still waiting, with no error.
    time.sleep(0.5)
    assert poll.error is None, poll.error
    assert poll.is_alive(), poll.events
    offset = say(sam, session, "I want to file a claim")
    poll.join(timeout=30)
    assert poll.error is None, poll.error
    assert offset in [e.offset for e in poll.events]
    cut = replicas.balancer.server_stats()[holder]
    assert int(cut["wretr"]) + int(cut["wredis"]) >= 1, cut  # HAProxy re-sent it, not the client
    reply = wait_for_ai_reply(sam, session, offset, kinds=CUSTOMER_KINDS)
    assert reply.data["message"]
    print(f"first AI reply after the kill: {time.monotonic() - killed_at:.2f}s")

    # The handoff runs on the survivor and reaches Slack once.
    handoff = say(sam, session, "Can I talk to a person please?")
    wait_for_ai_reply(sam, session, handoff, kinds=CUSTOMER_KINDS)
    (root,) = eventually(lambda: replicas.roots_for(session), what="the root message")
    operator = operator_client(replicas.balancer.url)
    assert operator.sessions.retrieve(session).metadata["handoff"]["status"] == "waiting"

    # The operator's reply, through the balancer, reaches the customer's chat.
    poll = LongPoll(sam, session, settled(sam, session))
    poll.start()
    operator.sessions.create_event(
        session,
        kind="message",
        source="human_agent",
        message="Hi Sam, Dana here; I will take it from here.",
        participant=Participant(id="slack:dana", display_name="Dana"),
    )
    poll.join(timeout=30)
    assert poll.error is None, poll.error
    assert [e.data["message"] for e in poll.events if e.kind == "message"] == [
        "Hi Sam, Dana here; I will take it from here."
    ]
    assert replicas.served()[survivor] > 0
    # Still one root message, after everything above had time to repeat it.
    time.sleep(1.0)
    assert [m.ts for m in replicas.roots_for(session)] == [root.ts]
    # And one attempt: no replica posted it and had it deleted or refused.
    postings = [
        c
        for c in replicas.slack.call(replicas.slack.fake.calls, "chat.postMessage")
        if not c.params.get("thread_ts") and session in json.dumps(c.params.get("metadata"))
    ]
    assert len(postings) == 1


def test_two_of_everything_survives_losing_an_agent_and_a_bridge(bridges: Bridges) -> None:
    replicas = bridges.replicas
    dana, lee = replicas.operators
    sam = token_client(replicas.balancer.url, customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter"))
    session = sam.sessions.create(agent_id=AGENT_ID).id
    handoff = say(sam, session, "I want to talk to a human")
    wait_for_ai_reply(sam, session, handoff, kinds=CUSTOMER_KINDS)
    (root,) = eventually(lambda: replicas.roots_for(session), what="the root message")
    holder = eventually(lambda: bridges.lease_owner(session), what="a bridge taking the lease")
    survivor = next(n for n in BRIDGE_NAMES if n != holder)

    customer = [f"customer line {i}" for i in range(1, 7)]
    operators = [f"operator reply {i}" for i in range(1, 7)]
    killed_at = 0.0
    for i, (said, replied) in enumerate(zip(customer, operators, strict=True)):
        if i == 3:
            # Mid-conversation, with replies and mirrors in flight: the bridge mirroring this
            # session and one agent die at once.
            bridges.processes[holder].kill()
            replicas.agents["a"].stop(signal.SIGKILL)
            killed_at = time.time()
            # Sam's next message once HAProxy has taken the dead agent out (within about a
            # second): before that, a POST sent on HAProxy's kept-alive connection to it is not
            # re-sent (it may have been written) and Sam's chat page retries it; this SDK
            # client does not (it failed so twice in about ten runs).
            replicas.balancer.wait_down("a")
        say(sam, session, said)
        bridges.operator_writes(dana if i % 2 == 0 else lee, replied, root.ts)
        if i == 0:  # the holder is at work before it dies
            eventually(lambda: bridges.mirrored(root.ts, customer[0]), what="the first mirror")
        time.sleep(0.3)

    # The survivor holds the lease within the lease time and catches up what the dead one missed.
    bound = LEASE_S + DISCOVERY_S
    eventually(
        lambda: bridges.lease_owner(session) == survivor,
        timeout=bound + 15,
        what=f"{survivor} taking the lease",
    )
    eventually(
        lambda: all(bridges.mirrored(root.ts, text) for text in customer),
        timeout=bound + 20,
        what="every customer message in the thread",
    )
    first_after_kill = bridges.posted_at(root.ts, customer[3]) - killed_at
    print(
        f"\n{survivor} took over {holder}'s mirror: {customer[3]!r}, written just after the "
        f"SIGKILL, was posted {first_after_kill:.1f}s after it (lease {LEASE_S:g}s + discovery "
        f"{DISCOVERY_S:g}s = {bound:g}s)"
    )
    # Within the lease and a discovery round, plus catching up and this shared machine's
    # scheduling; a takeover that waited for anything else (a restart) would be far later.
    assert first_after_kill < bound + 12, first_after_kill

    operator = operator_client(replicas.balancer.url)

    def delivered() -> list[str]:
        return [
            e.data["message"]
            for e in operator.sessions.list_events(session, kinds="message", wait_for_data=0)
            if e.source == "human_agent"
        ]

    eventually(lambda: len(delivered()) >= len(operators), timeout=30, what="every operator reply")
    time.sleep(LEASE_S)  # anything repeated by a late claim would arrive by now
    assert delivered() == operators  # each once, in the order written in Slack
    assert all(bridges.mirrored(root.ts, text) == 1 for text in customer), [
        (text, bridges.mirrored(root.ts, text)) for text in customer
    ]
    assert [m.ts for m in replicas.roots_for(session)] == [root.ts]
    # The customer saw every reply, through the surviving agent.
    seen = [
        e.data["message"]
        for e in sam.sessions.list_events(session, kinds=CUSTOMER_KINDS, wait_for_data=0)
        if e.kind == "message" and e.data["participant"]["role"] == "support team"
    ]
    assert seen == operators


def test_two_turns_of_one_session_on_both_agents_hand_off_once(both: Replicas) -> None:
    """The customer's messages reach both agents a moment apart: each agent runs an AI turn
    for the session (Parlant cancels an earlier turn only in its own process), and both turns
    call the handoff tool. Each read no handoff record and posted a root message (the chaos
    run, 2 seeds of 10); the handoff is now started under a lock held across replicas."""
    replicas = both
    token = customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter")
    clients = [token_client(agent.url, token) for agent in replicas.agents.values()]
    sessions = []
    for _ in range(3):
        session = clients[0].sessions.create(agent_id=AGENT_ID).id
        threads = [
            threading.Thread(target=say, args=(client, session, text))
            for client, text in zip(
                clients,
                ("I want to talk to a human", "Can I talk to a person please?"),
                strict=True,
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sessions.append(session)
    for session in sessions:
        eventually(lambda session=session: replicas.roots_for(session), what="the root message")  # type: ignore[misc]
    time.sleep(3.0)  # both turns are over by then (the offline NLP answers in about a second)
    assert [len(replicas.roots_for(s)) for s in sessions] == [1, 1, 1]
