"""A randomized fault run of the whole system, Jepsen-style, for tests/test_chaos.py and
scripts/chaos.py (`make chaos`).

Every process is real: a throwaway PostgreSQL cluster, two `python -m agent` behind HAProxy
(docs/replicas.md's configuration, tests/support/haproxy.py), two `python -m slack_bridge` in
Socket Mode on the same database, and the fake Slack spreading envelopes over both bridges'
connections and sending an unacknowledged one again to the other connection after 3 s.

Customers (guests and signed-in, each from its own address) ask the AI a question, ask for a
person, then write every 1 to 3 s; two operators reply in every escalation's thread. Meanwhile
a seeded nemesis SIGKILLs a random agent and/or bridge at random moments (also one still
starting, and so also during a takeover) and starts it again, cuts every database connection,
and, if asked, restarts PostgreSQL. It never kills the last running agent or bridge: with none
there is nothing to take over, only an outage.

Everything acknowledged is recorded (`chaos_check.History`); at the end the run reads what
Slack shows and what Parlant holds (`chaos_check.FinalState`) and the pure checker
(tests/support/chaos_check.py) says what was lost, doubled, reordered or left unanswered.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from parlant.client import ParlantClient

from agent.store.claims import SAMPLE_CUSTOMER_ID
from slack_kit.metadata import mirrored_parts
from tests.fakes import FakeSlack, FakeSlackThread
from tests.support import chaos_check as cc
from tests.support.agent_process import AgentProcess
from tests.support.bridge_process import BridgeProcess
from tests.support.chat import AGENT_ID
from tests.support.customers import (
    SIGNED_IN_ENV,
    customer_token,
    operator_client,
    token_client,
)
from tests.support.haproxy import Backend, LoadBalancer
from tests.support.postgres import PostgresCluster, postgres_bin_dir
from tests.support.slack_world import slack_env

GUEST_SECRET = "chaos-guest-secret-0123456789-abcdefghij"
DISCOVERY_S = 2.0  # the bridge's production discovery interval
# The discovery pass's own work (listing, lease writes) and the survivor being scheduled: the
# lease and the interval alone are a bound only a machine with nothing else to do meets (a
# short seed under `make test`, the machine busy with the rest of the suite, took over in
# 5.01 s against 3 + 2).
PASS_WORK_S = 1.0
SLACK_ACK_TIMEOUT_S = 3.0  # Slack re-sends an envelope nobody acknowledged after 3 s
CUSTOMER_KINDS = "message,status"


@dataclass
class ChaosSettings:
    seed: int
    customers: int = 8
    load_s: float = 60.0
    lease_s: float = 5.0
    # Seconds between two faults, drawn uniformly.
    fault_gap_s: tuple[float, float] = (2.0, 6.0)
    # Seconds a killed process stays dead before it is started again.
    down_s: tuple[float, float] = (0.5, 4.0)
    postgres_restarts: bool = False
    cut_connections: bool = True
    drain_s: float = 60.0
    workdir: Path | None = None

    @property
    def takeover_bound_s(self) -> float:
        """docs/replicas.md: a killed bridge's sessions are taken over within the lease plus
        one discovery pass (its interval and its own work)."""
        return self.lease_s + DISCOVERY_S + PASS_WORK_S


@dataclass
class Slot:
    """One replica the nemesis kills and starts again; `up` once it serves."""

    name: str
    kind: str  # "agent" or "bridge"
    process: AgentProcess | BridgeProcess
    up: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarter: threading.Thread | None = None

    def start(self) -> None:
        self.process.start()
        self.up = True

    def kill(self) -> None:
        self.up = False
        with contextlib.suppress(Exception):
            if isinstance(self.process, AgentProcess):
                self.process.stop(signal.SIGKILL)
            else:
                self.process.kill()


@dataclass
class ChaosResult:
    settings: ChaosSettings
    history: cc.History
    final: cc.FinalState
    verdict: cc.Verdict
    log: list[str]

    def row(self) -> list[str]:
        return cc.table_row(self.settings.seed, self.verdict, len(self.history.disruptions))


class ChaosRun:
    def __init__(self, settings: ChaosSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="chaos-"))
        self.history = cc.History()
        self.log: list[str] = []
        self.started = time.time()
        self.end_of_load = 0.0
        self._lock = threading.Lock()
        self.sessions: list[str] = []
        self.escalated: dict[str, str] = {}  # session -> root ts
        self.slots: dict[str, Slot] = {}
        self.pushes: list[Future[Any]] = []
        self.pusher = ThreadPoolExecutor(max_workers=48, thread_name_prefix="slack-push")
        self.slack: FakeSlackThread | None = None
        self.postgres: PostgresCluster | None = None
        self.balancer: LoadBalancer | None = None
        self.channel = ""
        self.operators: tuple[str, str] = ("", "")
        self._outage_started: float | None = None
        self.db_url = ""
        self.watchers: list[threading.Thread] = []

    # -- set-up ---------------------------------------------------------------------------

    def note(self, line: str) -> None:
        with self._lock:
            self.log.append(f"{time.time() - self.started:7.2f}s {line}")

    def start(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/ensure_postgres.sh)")
        self.postgres = PostgresCluster(bin_dir).start()
        url = self.postgres.create_database("chaos")
        self.db_url = url
        self.slack = slack = FakeSlack(spread_events=True).run_in_thread()
        dana = slack.call(slack.fake.add_user, "dana", display_name="Dana")
        lee = slack.call(slack.fake.add_user, "lee", display_name="Lee")
        self.operators = (dana, lee)
        self.channel = slack.call(slack.fake.add_channel, "escalations", members=[dana, lee])
        agent_env = {
            **slack_env(slack, self.channel, "http"),
            **SIGNED_IN_ENV,
            "CUSTOMER_GUEST_SECRET": GUEST_SECRET,
            "PARLANT_SESSION_STORE": url,
            "CUSTOMER_TRUSTED_PROXIES": "127.0.0.1",
        }
        for name in ("agent-a", "agent-b"):
            agent = AgentProcess(home=self.workdir / name / "parlant", extra_env=agent_env)
            self.slots[name] = Slot(name, "agent", agent)
        self._start_all([s for s in self.slots.values() if s.kind == "agent"])
        self.balancer = LoadBalancer(
            [Backend(s.name, s.process.port) for s in self.slots.values()]
        ).start()
        bridge_env = {
            **slack_env(slack, self.channel, "socket"),
            **SIGNED_IN_ENV,
            "PARLANT_URL": self.balancer.url,
            "BRIDGE_STATE_URL": url,
            "BRIDGE_LEASE_SECONDS": f"{self.settings.lease_s:g}",
            "BRIDGE_DISCOVERY_INTERVAL_SECONDS": f"{DISCOVERY_S:g}",
        }
        for name in ("bridge-a", "bridge-b"):
            bridge = BridgeProcess(
                workdir=self.workdir / name,
                env_overrides={**bridge_env, "BRIDGE_REPLICA_ID": name},
                ready=lambda: False,
            )
            bridge.ready = self._bridge_ready(bridge)
            self.slots[name] = Slot(name, "bridge", bridge)
        self._start_all([s for s in self.slots.values() if s.kind == "bridge"])
        self.note("everything up")

    @staticmethod
    def _bridge_ready(bridge: BridgeProcess) -> Callable[[], bool]:
        def ready() -> bool:
            try:
                return httpx.get(f"{bridge.metrics_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        return ready

    def _start_all(self, slots: list[Slot]) -> None:
        with ThreadPoolExecutor(len(slots)) as pool:
            for future in [pool.submit(slot.start) for slot in slots]:
                future.result()

    def close(self) -> None:
        self.pusher.shutdown(wait=False, cancel_futures=True)
        for slot in self.slots.values():
            with contextlib.suppress(Exception):
                if isinstance(slot.process, AgentProcess):
                    slot.process.stop()
                else:
                    slot.process.stop()
        if self.balancer is not None:
            self.balancer.stop()
        if self.slack is not None:
            self.slack.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.settings.workdir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> ChaosResult:
        self.end_of_load = time.time() + self.settings.load_s
        threads = [
            threading.Thread(target=self._customer, args=(i, random.Random(self.rng.random())))
            for i in range(self.settings.customers)
        ]
        nemesis = threading.Thread(target=self._nemesis, args=(random.Random(self.rng.random()),))
        for thread in [*threads, nemesis]:
            thread.daemon = True
            thread.start()
        nemesis.join()
        for thread in threads:
            thread.join(timeout=self.settings.drain_s)
        self._everything_up()
        for watcher in self.watchers:
            watcher.join()
        self.note("load over, everything up; draining")
        for push in list(self.pushes):
            with contextlib.suppress(Exception):
                push.result(timeout=self.settings.drain_s)
        final = self._drain()
        self._note_slack_calls()
        verdict = cc.check(self.history, final, self.settings.takeover_bound_s)
        return ChaosResult(self.settings, self.history, final, verdict, self.log)

    # -- customers and operators ----------------------------------------------------------

    def _customer(self, index: int, rng: random.Random) -> None:
        assert self.balancer is not None
        address = f"10.20.{index // 250}.{index % 250 + 1}"
        signed_in = rng.random() < 0.5
        client = self._customer_client(address, signed_in)
        if client is None:
            return
        session = self._open_session(client)
        if session is None:
            return
        with self._lock:
            self.sessions.append(session)
        # The chat page sends a message again when its POST failed; these two must arrive.
        self._write_until_stored(client, session, "What does my policy cover?")
        time.sleep(rng.uniform(0.3, 2.0))
        self._write_until_stored(client, session, "I want to talk to a human")
        if not self._handed_off(client, session):
            self.note(f"customer {index}: never handed off (session {session})")
            return
        with self._lock:
            self.history.escalations.append(session)
        for who in self.operators:
            threading.Thread(
                target=self._operator,
                args=(session, who, random.Random(rng.random())),
                daemon=True,
            ).start()
        n = 0
        while time.time() < self.end_of_load:
            time.sleep(rng.uniform(1.0, 3.0))
            self._write(client, session, f"customer {index} line {n}", mirrored=True)
            n += 1
            if rng.random() < 0.3:
                self._read(client, session)

    def _customer_client(self, address: str, signed_in: bool) -> ParlantClient | None:
        assert self.balancer is not None
        if signed_in:
            token = customer_token(SAMPLE_CUSTOMER_ID, "Sam Carter", lifetime_s=3600)
        else:
            sent = time.time()
            try:
                answer = httpx.post(
                    f"{self.balancer.url}/customer/guest-token",
                    headers={"X-Forwarded-For": address},
                    timeout=30,
                )
                answer.raise_for_status()
                token = str(answer.json()["token"])
            except Exception as error:
                self._request("POST", "guest token", sent, error)
                return None
            self._request("POST", "guest token", sent, None)
        return token_client(self.balancer.url, token, forwarded_for=address)

    def _open_session(self, client: ParlantClient) -> str | None:
        for _ in range(5):
            sent = time.time()
            try:
                session = client.sessions.create(agent_id=AGENT_ID).id
            except Exception as error:
                self._request("POST", "open session", sent, error)
                time.sleep(1)
                continue
            self._request("POST", "open session", sent, None)
            return str(session)
        return None

    def _request(self, method: str, what: str, sent: float, error: BaseException | None) -> None:
        request = cc.CustomerRequest(method, what, sent, time.time(), _describe(error))
        with self._lock:
            self.history.requests.append(request)

    def _write(
        self,
        client: ParlantClient,
        session: str,
        text: str,
        mirrored: bool = False,
        expects_ai: bool = False,
    ) -> bool:
        """One POST, recorded; whether it was acknowledged."""
        sent = time.time()
        try:
            event = client.sessions.create_event(
                session, kind="message", source="customer", message=text
            )
        except Exception as error:
            write = cc.CustomerWrite(
                session,
                text,
                sent,
                time.time(),
                error=_describe(error),
                mirrored=mirrored,
                expects_ai=expects_ai,
            )
            self.note(f"POST failed: {text!r}: {write.error}")
        else:
            write = cc.CustomerWrite(
                session,
                text,
                sent,
                time.time(),
                event_id=event.id,
                offset=event.offset,
                mirrored=mirrored,
                expects_ai=expects_ai,
            )
        with self._lock:
            self.history.writes.append(write)
        return write.acknowledged

    def _write_until_stored(self, client: ParlantClient, session: str, text: str) -> None:
        for _ in range(5):
            if self._write(client, session, text, expects_ai=True):
                return
            time.sleep(1.0)

    def _read(self, client: ParlantClient, session: str) -> list[Any]:
        sent = time.time()
        try:
            events = list(
                client.sessions.list_events(session, kinds=CUSTOMER_KINDS, wait_for_data=0)
            )
        except Exception as error:
            self._request("GET", "events", sent, error)
            return []
        self._request("GET", "events", sent, None)
        return events

    def _handed_off(self, client: ParlantClient, session: str) -> bool:
        """Until the AI's turn handed the session to a person (its root is in Slack), reading
        the chat as the customer's page does meanwhile."""
        deadline = time.time() + 60
        while time.time() < deadline:
            self._read(client, session)
            if self._root_of(session) is not None and self._mode(session) == "manual":
                return True
            time.sleep(1.0)
        return False

    def _mode(self, session: str) -> str | None:
        assert self.balancer is not None
        try:
            return str(operator_client(self.balancer.url).sessions.retrieve(session).mode)
        except Exception:  # an operator's read, not the customer's: asked again
            return None

    def _root_of(self, session: str) -> str | None:
        assert self.slack is not None
        for message in self.slack.call(self.slack.fake.messages, self.channel):
            payload = (message.metadata or {}).get("event_payload") or {}
            if message.thread_ts is None and payload.get("session_id") == session:
                return message.ts
        return None

    def _operator(self, session: str, who: str, rng: random.Random) -> None:
        assert self.slack is not None
        root = self._root_of(session)
        assert root is not None
        n = 0
        while time.time() < self.end_of_load:
            time.sleep(rng.uniform(1.5, 4.0))
            text = f"{who} reply {n} in {session[-6:]}"
            event = self.slack.call(
                self.slack.fake.add_user_message, self.channel, who, text, thread_ts=root
            )
            with self._lock:
                self.history.replies.append(cc.OperatorReply(session, event["ts"], text))
            event_id = f"EvChaos{session[-6:]}{who}{n}"
            self.pushes.append(self.pusher.submit(self._push, event, event_id))
            n += 1

    def _push(self, event: dict[str, Any], event_id: str) -> None:
        assert self.slack is not None
        # Slack keeps re-sending to the other connection while nobody acknowledges.
        attempts = int(self.settings.drain_s / SLACK_ACK_TIMEOUT_S) + 1
        self.slack.run(
            self.slack.fake.push_event_until_acked(
                event, event_id=event_id, ack_timeout=SLACK_ACK_TIMEOUT_S, attempts=attempts
            ),
            timeout=None,
        )

    # -- the nemesis ----------------------------------------------------------------------

    def _nemesis(self, rng: random.Random) -> None:
        while True:
            time.sleep(rng.uniform(*self.settings.fault_gap_s))
            if time.time() >= self.end_of_load:
                return
            roll = rng.random()
            if roll < 0.35:
                self._kill(rng, "agent")
            elif roll < 0.7:
                self._kill(rng, "bridge")
            elif roll < 0.85:
                self._kill(rng, "agent")
                self._kill(rng, "bridge")
            elif self.settings.postgres_restarts and roll < 0.92:
                self._restart_postgres()
            elif self.settings.cut_connections:
                self._cut_connections()

    def _kill(self, rng: random.Random, kind: str) -> None:
        slots = [s for s in self.slots.values() if s.kind == kind]
        up = [s for s in slots if s.up]
        starting = [s for s in slots if not s.up]
        # A serving replica only while another serves; one still starting (or just taking
        # its sessions back) now and then, so starts and takeovers are cut too.
        if len(up) > 1:
            candidates = up
        elif starting and rng.random() < 0.3:
            candidates = starting
        else:
            return
        slot = rng.choice(candidates)
        with slot.lock:
            was_starting = not slot.up
            held = self._leases_of(slot.name) if kind == "bridge" else []
            # Recorded before the signal: a request the death cuts may fail before kill() returns.
            at = time.time()
            with self._lock:
                self.history.disruptions.append(cc.Disruption(at, f"kill {slot.name}", kind))
            slot.kill()
            if held:
                watcher = threading.Thread(
                    target=self._watch_takeover, args=(at, f"kill {slot.name}", held), daemon=True
                )
                watcher.start()
                self.watchers.append(watcher)
            self._bridges_changed()
            self.note(f"SIGKILL {slot.name}{' while starting' if was_starting else ''}")
            if slot.restarter is None or not slot.restarter.is_alive():
                slot.restarter = threading.Thread(
                    target=self._restart, args=(slot, rng.uniform(*self.settings.down_s))
                )
                slot.restarter.daemon = True
                slot.restarter.start()

    def _leases_of(self, owner: str) -> list[str]:
        try:
            with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
                rows = conn.execute(
                    "SELECT session_id FROM bridge_session_leases"
                    " WHERE owner = %s AND expires_at > now()",
                    (owner,),
                ).fetchall()
        except psycopg.Error:
            return []
        return [str(r[0]) for r in rows]

    def _watch_takeover(self, killed_at: float, what: str, sessions: list[str]) -> None:
        """Until each of the dead bridge's sessions is held again: its lease renewed or taken
        after the kill (the dead one renews nothing, so that is a survivor, or the replica
        restarted under its name, which takes its sessions back at once)."""
        limit = killed_at + 3 * self.settings.takeover_bound_s + 30
        taken_at: float | None = None
        while time.time() < limit:
            try:
                with psycopg.connect(self.db_url, autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM bridge_session_leases WHERE session_id = ANY(%s)"
                        " AND expires_at > to_timestamp(%s) + make_interval(secs => %s)",
                        (sessions, killed_at, self.settings.lease_s + 0.05),
                    ).fetchone()
            except psycopg.Error:
                row = None
            if row is not None and int(row[0]) == len(sessions):
                taken_at = time.time()
                break
            time.sleep(0.2)
        seconds = None if taken_at is None else taken_at - killed_at
        takeover = cc.Takeover(killed_at, what, len(sessions), seconds)
        with self._lock:
            self.history.takeovers.append(takeover)
        shown = "never" if seconds is None else f"{seconds:.2f}s"
        self.note(f"{what}: its {len(sessions)} sessions held again after {shown}")

    def _restart(self, slot: Slot, after: float) -> None:
        time.sleep(after)
        while True:
            try:
                slot.process.start()
            except Exception as error:  # killed while starting: start it again
                self.note(f"{slot.name} did not start ({type(error).__name__}); again")
                time.sleep(0.5)
                continue
            with slot.lock:
                # The nemesis may have killed it between its start and now.
                if slot.process.process is None or slot.process.process.poll() is not None:
                    continue
                slot.up = True
            self._bridges_changed()
            self.note(f"{slot.name} up again")
            return

    def _bridges_changed(self) -> None:
        """Outages: no bridge serving (nothing can mirror)."""
        serving = any(s.up for s in self.slots.values() if s.kind == "bridge")
        with self._lock:
            if not serving and self._outage_started is None:
                self._outage_started = time.time()
            elif serving and self._outage_started is not None:
                self.history.outages.append((self._outage_started, time.time()))
                self._outage_started = None

    def _restart_postgres(self) -> None:
        assert self.postgres is not None
        began = time.time()
        with self._lock:
            self.history.disruptions.append(cc.Disruption(began, "restart postgres", "postgres"))
        self.postgres._run(
            "pg_ctl", "restart", "--pgdata", str(self.postgres.data_dir), "--mode", "fast", "--wait"
        )
        with self._lock:
            self.history.outages.append((began, time.time()))
        self.note(f"PostgreSQL restarted in {time.time() - began:.1f}s")

    def _cut_connections(self) -> None:
        assert self.postgres is not None
        with self._lock:
            self.history.disruptions.append(
                cc.Disruption(time.time(), "cut connections", "postgres")
            )
        self.postgres.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = 'chaos' AND pid <> pg_backend_pid()"
        )
        self.note("every database connection cut")

    def _everything_up(self) -> None:
        for slot in self.slots.values():
            if slot.restarter is not None:
                slot.restarter.join(timeout=120)
            if not slot.up:
                self._restart(slot, 0)

    def _note_slack_calls(self) -> None:
        """Slack calls by method, and those refused with 429: pacing shows in the delays."""
        assert self.slack is not None
        calls = self.slack.call(self.slack.fake.calls)
        made: dict[str, int] = {}
        limited: dict[str, int] = {}
        for call in calls:
            made[call.method] = made.get(call.method, 0) + 1
            if call.status == 429:
                limited[call.method] = limited.get(call.method, 0) + 1
        self.note(f"Slack calls {made}; answered 429: {limited}")

    # -- the end state --------------------------------------------------------------------

    def final_state(self) -> cc.FinalState:
        assert self.slack is not None and self.balancer is not None
        fake = self.slack.fake
        accepted = {
            str(call.response["ts"]): call.time
            for call in self.slack.call(fake.calls, "chat.postMessage")
            if call.response and call.response.get("ok")
        }
        final = cc.FinalState()
        root_session: dict[str, str] = {}
        messages = self.slack.call(fake.messages, self.channel)
        for message in messages:
            payload = (message.metadata or {}).get("event_payload") or {}
            if message.thread_ts is None and payload.get("session_id"):
                session = str(payload["session_id"])
                final.roots.setdefault(session, []).append(message.ts)
                root_session[message.ts] = session
        for message in messages:
            if message.thread_ts is None or message.thread_ts not in root_session:
                continue
            parts = mirrored_parts({"metadata": message.metadata or {}})
            ids = tuple(event_id for event_id, part in sorted(parts) if part == 0)
            if not ids:
                continue
            ordered = _carried_in_order(message.metadata or {}, ids)
            final.threads.setdefault(message.thread_ts, []).append(
                cc.ThreadPost(message.ts, ordered, accepted.get(message.ts, 0.0))
            )
        operator = operator_client(self.balancer.url)
        for session in self.sessions:
            events = operator.sessions.list_events(session, wait_for_data=0)
            final.events[session] = [
                cc.ParlantEvent(
                    session,
                    int(e.offset),
                    str(e.id),
                    str(e.kind),
                    str(e.source),
                    ((e.metadata or {}).get("slack") or {}).get("ts"),
                    e.creation_utc.timestamp(),
                )
                for e in events
            ]
        return final

    def _drain(self) -> cc.FinalState:
        """The final state once everything recorded has arrived (or the drain time is up),
        and a few seconds more for anything arriving twice."""
        deadline = time.time() + self.settings.drain_s
        while True:
            final = self.final_state()
            verdict = cc.check(self.history, final, self.settings.takeover_bound_s)
            waiting = verdict.lost or verdict.replies_lost or verdict.unanswered_turns
            if not waiting or time.time() > deadline:
                break
            time.sleep(2.0)
        time.sleep(self.settings.lease_s)
        return self.final_state()


def _carried_in_order(metadata: dict[str, Any], ids: tuple[str, ...]) -> tuple[str, ...]:
    """A coalesced post's events in the order it shows them (its metadata lists them so)."""
    payload = metadata.get("event_payload") or {}
    listed = payload.get("event_ids")
    if isinstance(listed, list):
        return tuple(str(i) for i in listed if str(i) in ids)
    return ids


def _describe(error: BaseException | None) -> str | None:
    if error is None:
        return None
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}" + (f" {status}" if status else "") + f": {error}"[:200]


@contextlib.contextmanager
def chaos_run(settings: ChaosSettings) -> Iterator[ChaosRun]:
    run = ChaosRun(settings)
    try:
        run.start()
        yield run
    finally:
        run.close()


def run_seed(settings: ChaosSettings) -> ChaosResult:
    with chaos_run(settings) as run:
        return run.run()


def describe(result: ChaosResult) -> str:
    lines = [f"seed {result.settings.seed}: " + ("ok" if result.verdict.ok else "FAILED")]
    lines += [f"  {p}" for p in result.verdict.problems()[:30]]
    lines += [f"  {line}" for line in result.log if "SIGKILL" in line or "restarted" in line][:40]
    return "\n".join(lines)


def history_json(result: ChaosResult) -> str:
    """The whole history and final state, for reading a failed seed afterwards."""
    from dataclasses import asdict

    return json.dumps(
        {
            "seed": result.settings.seed,
            "history": asdict(result.history),
            "final": asdict(result.final),
            "problems": result.verdict.problems(),
            "log": result.log,
        },
        indent=1,
    )
