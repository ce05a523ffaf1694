"""Operations: /metrics, /healthz and /readyz on the agent and the bridge, and LOG_FORMAT=json.

One real agent (offline NLP) and one real bridge (Socket Mode) against the fake Slack, both
with LOG_FORMAT=json and a 6-second claim target. The metrics are parsed with
prometheus-client's own text-format parser, so a malformed exposition fails here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import forks
from tests.support.agent_process import REPO_ROOT, free_port
from tests.support.chat import say
from tests.support.slack_world import (
    OPERATOR_HEADERS,
    OPERATOR_TOKEN,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world(
        "socket",
        tmp_path_factory.mktemp("operations"),
        extra_env={"LOG_FORMAT": "json", "SLA_CLAIM_TARGET_MINUTES": "0.1"},
    )
    yield setup
    stop_world(setup)


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(url, headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def agent_metrics(world: SlackWorld) -> Samples:
    return scrape(f"{world.agent.url}/metrics", OPERATOR_HEADERS)


def bridge_metrics(world: SlackWorld) -> Samples:
    return scrape(f"{world.bridge.metrics_url}/metrics")


def test_health_endpoints_answer(world: SlackWorld) -> None:
    assert httpx.get(f"{world.agent.url}/healthz").status_code == 200
    assert httpx.get(f"{world.bridge.metrics_url}/healthz").json() == {"alive": True}
    agent_ready = httpx.get(f"{world.agent.url}/readyz", headers=OPERATOR_HEADERS)
    assert agent_ready.status_code == 200
    assert agent_ready.json()["checks"] == {
        "session_store": "ok",
        "claims_store": "ok",
        "slack": "ok",
    }
    bridge_ready = httpx.get(f"{world.bridge.metrics_url}/readyz")
    assert bridge_ready.status_code == 200
    assert bridge_ready.json()["checks"] == {"store": "ok", "parlant": "ok", "slack": "ok"}


def test_the_agent_s_metrics_and_readiness_details_need_the_token(world: SlackWorld) -> None:
    assert httpx.get(f"{world.agent.url}/metrics").status_code == 403
    anonymous = httpx.get(f"{world.agent.url}/readyz")
    assert anonymous.status_code == 200 and anonymous.json() == {"ready": True}


def test_a_conversation_shows_in_both_processes_metrics(world: SlackWorld) -> None:
    before = bridge_metrics(world)
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "person will join")
    world.slack.call(world.fake.rate_limit, "chat.postMessage", times=1, retry_after=1)
    say(world.client, session, "my card was declined")
    world.wait_in_thread(root.ts, "my card was declined")
    world.operator_writes(world.dana, "Looking into it now", root.ts)
    eventually(
        lambda: any(
            e.data.get("message") == "Looking into it now"
            for e in world.parlant_events(session, kinds="message")
        ),
        what="the operator's reply in Parlant",
    )
    bridge = bridge_metrics(world)
    assert value(bridge, "bridge_mirror_lag_seconds_count") > value(
        before, "bridge_mirror_lag_seconds_count"
    )
    assert value(bridge, "bridge_relay_latency_seconds_count") == (
        value(before, "bridge_relay_latency_seconds_count") + 1
    )
    assert value(bridge, "bridge_relay_latency_seconds_bucket", le="+Inf") == value(
        bridge, "bridge_relay_latency_seconds_count"
    )
    ok_posts = value(bridge, "bridge_slack_calls_total", method="chat.postMessage", outcome="ok")
    assert ok_posts > value(
        before, "bridge_slack_calls_total", method="chat.postMessage", outcome="ok"
    )
    assert value(bridge, "bridge_slack_calls_total", method="reactions.add", outcome="ok") >= 1
    # The handoff tool posts the root; the bridge's first post met the 429 and waited it out.
    assert (
        value(bridge, "bridge_slack_calls_total", method="chat.postMessage", outcome="rate_limited")
        == 1
    )
    assert value(bridge, "bridge_mirrors_active") >= 1
    assert value(bridge, "bridge_long_polls_open") >= 1
    assert value(bridge, "bridge_outbox_pending") == 0
    assert value(bridge, "process_resident_memory_bytes") > 0

    agent = eventually(
        lambda: (
            s
            if value(
                s := agent_metrics(world),
                "escalations_open",
                status="claimed",
                channel=world.channel,
            )
            >= 1
            else None
        ),
        what="the claimed escalation in the agent's metrics",
    )
    assert value(agent, "parlant_long_polls_open") >= 1  # the bridge's mirror waits on it


def test_an_unclaimed_handoff_breaches_its_claim_target_in_the_metrics(world: SlackWorld) -> None:
    _session, _root = world.escalated_session()
    eventually(
        lambda: value(agent_metrics(world), "escalations_sla_breached", clock="claim") >= 1,
        timeout=40,
        what="the claim clock breached in the agent's metrics",
    )
    eventually(
        lambda: (
            value(bridge_metrics(world), "bridge_sla_notices_total", kind="claim_reminder") >= 1
        ),
        timeout=40,
        what="the reminder counted by the bridge",
    )
    assert (
        value(agent_metrics(world), "escalations_open", status="waiting", channel=world.channel)
        >= 1
    )


def test_replies_waiting_for_parlant_show_as_outbox_depth_and_age(world: SlackWorld) -> None:
    _session, root = world.escalated_session()
    world.agent.stop()
    try:
        world.operator_writes(world.dana, "Are you still there?", root.ts)
        waiting = eventually(
            lambda: s if value(s := bridge_metrics(world), "bridge_outbox_pending") == 1 else None,
            what="the reply waiting in the outbox",
        )
        time.sleep(1.5)
        assert value(bridge_metrics(world), "bridge_outbox_oldest_age_seconds") >= 1.0
        assert value(waiting, "bridge_outbox_oldest_age_seconds") >= 0.0
        not_ready = httpx.get(f"{world.bridge.metrics_url}/readyz", timeout=10)
        assert not_ready.status_code == 503
        checks = not_ready.json()["checks"]
        assert checks["store"] == "ok" and checks["parlant"].startswith("not reachable")
    finally:
        world.agent.start()
    eventually(
        lambda: value(bridge_metrics(world), "bridge_outbox_pending") == 0,
        timeout=30,
        what="the outbox drained once Parlant is back",
    )
    after = bridge_metrics(world)
    assert value(after, "bridge_outbox_oldest_age_seconds") == 0
    assert httpx.get(f"{world.bridge.metrics_url}/readyz", timeout=10).status_code == 200


def json_lines(path: Path) -> list[dict[str, object]]:
    lines = path.read_text().splitlines()
    assert lines, f"{path} is empty"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{path.name}: not one JSON object: {line!r}")
    return parsed


def test_a_channels_backlog_and_its_oldest_wait_are_metrics(world: SlackWorld) -> None:
    """While Slack refuses a channel's posts (429), what waits for it is counted per channel,
    with the age of the oldest; once Slack takes posts again the backlog is 0."""
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "person will join")
    world.slack.call(world.fake.rate_limit, "chat.postMessage", times=None, retry_after=3)
    try:
        say(world.client, session, "stuck behind Slack's limit")
        stuck = eventually(
            lambda: (
                s
                if value(
                    s := bridge_metrics(world), "bridge_channel_backlog", channel=world.channel
                )
                >= 1
                else None
            ),
            what="the channel's backlog",
        )
        assert value(stuck, "bridge_channel_oldest_wait_seconds", channel=world.channel) >= 0
        time.sleep(1.5)
        later = bridge_metrics(world)
        assert value(later, "bridge_channel_oldest_wait_seconds", channel=world.channel) >= 1
    finally:
        world.slack.call(world.fake.clear_faults)
    world.wait_in_thread(root.ts, "stuck behind Slack's limit", timeout=40)
    eventually(
        lambda: value(bridge_metrics(world), "bridge_channel_backlog", channel=world.channel) == 0,
        what="the backlog drained",
    )


def test_log_format_json_gives_one_object_per_line(world: SlackWorld) -> None:
    for path, process in ((world.agent.log_path, "agent"), (world.bridge.log_path, "bridge")):
        records = json_lines(path)
        assert all(r["process"] == process for r in records)
        assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
        assert not any("\x1b" in str(r["message"]) for r in records)
    agent_loggers = {r["logger"] for r in json_lines(world.agent.log_path)}
    assert "parlant" in agent_loggers  # Parlant's own lines, in the same shape


@contextmanager
def dashboard(world: SlackWorld, tmp_path: Path, token: str) -> Iterator[str]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "BRIDGE_", "LOG_"))
    }
    env.update(
        PARLANT_URL=world.agent.url,
        PARLANT_OPERATOR_TOKEN=token,
        DASHBOARD_PORT=str(port),
        DOTENV_PATH=str(tmp_path / "no.env"),
    )
    log = tmp_path / f"dashboard-{port}.log"
    process = forks.start("dashboard", env, REPO_ROOT, log)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(
            lambda: process.poll() is None and _answers(f"{url}/_stcore/health"),
            timeout=60,
            what=f"the dashboard up:\n{log.read_text()}",
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_dashboard_is_ready_only_when_parlant_takes_its_token(
    world: SlackWorld, tmp_path: Path
) -> None:
    with dashboard(world, tmp_path, OPERATOR_TOKEN) as url:
        assert httpx.get(f"{url}/healthz").json() == {"alive": True}
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"parlant": "ok", "operator_calls": "ok"}
    with dashboard(world, tmp_path, "a-wrong-token-of-enough-length") as url:
        not_ready = httpx.get(f"{url}/readyz", timeout=10)
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["operator_calls"].startswith("refused (403)")
