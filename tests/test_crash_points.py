"""Kill at every step: the real bridge process dies at each named crash point
(config/crash_points.py) and, restarted, neither loses, doubles nor reorders anything.

One world (fake Slack, the real agent, the real bridge in HTTP mode) serves every point; each
case restarts the bridge with the point armed, makes the pipeline reach it, waits for the
process to exit with the crash status, restarts it unarmed and checks what Slack and Parlant
hold after a bounded quiet window.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from config.crash_points import POINTS
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.scheduling import CRASH_POINT_HALVES
from tests.support.slack_world import (
    QUIET_S,
    RESYNC_QUIET_S,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)
from tests.support.waits import stays

SLA_ENV = {"SLA_CLAIM_TARGET_MINUTES": str(3 / 60), "SLA_FIRST_REPLY_TARGET_MINUTES": str(5 / 60)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world("http", tmp_path_factory.mktemp("crash"), supervisor_channel=True)
    yield setup
    stop_world(setup)


def restart(world: SlackWorld, point: str | None, extra: dict[str, str] | None = None) -> None:
    """Every case starts with this, so the SLA targets of an earlier case never carry over."""
    env = world.bridge.env_overrides
    for name in SLA_ENV:
        env.pop(name, None)
    env.update(extra or {})
    world.bridge.restart(crash_at=point)


def crashed(world: SlackWorld, point: str) -> None:
    world.bridge.wait_crashed(point)


def count(texts: list[str], needle: str) -> int:
    return sum(needle in t for t in texts)


def in_order(texts: list[str], needles: list[str]) -> bool:
    where = [next(i for i, t in enumerate(texts) if needle in t) for needle in needles]
    return where == sorted(where)


def quiet_then(check: Callable[[], None], seconds: float = QUIET_S) -> None:
    """`check` holds now and through the quiet window: nothing more is posted or delivered."""
    stays(check, seconds)


def mirror_case(world: SlackWorld, point: str) -> None:
    restart(world, point)
    session = new_session(world.client)
    asked = say(world.client, session, "I want to talk to a human")
    wait_for_ai_reply(world.client, session, asked)
    root = world.root_for(session)
    crashed(world, point)
    dead = [f"said while the bridge was dead ({n})" for n in range(3)]
    for text in dead:
        say(world.client, session, text)
    # Armed again: the restart's catch-up posts what the dead bridge missed as one coalesced
    # post (slack_bridge/mirror.py) and dies at the same point of that path.
    restart(world, point)
    crashed(world, point)
    restart(world, None)
    say(world.client, session, "said after the restart")
    world.wait_in_thread(root.ts, "said after the restart", timeout=40)

    def check() -> None:
        texts = world.thread_texts(root.ts)
        # The handoff turn is on the root message; the AI's handoff reply is the first post.
        needles = ["handing this conversation", *dead, "said after the restart"]
        assert [count(texts, n) for n in needles] == [1] * len(needles), texts
        assert in_order(texts, needles), texts

    quiet_then(check)


def outbox_case(world: SlackWorld, point: str) -> None:
    # Armed from the start: the outbox's points are reached only once an operator replies.
    restart(world, point)
    session, root = world.escalated_session()
    first, _ = world.operator_writes(world.dana, f"first reply {point}", root.ts)
    crashed(world, point)
    restart(world, None)
    second, _ = world.operator_writes(world.dana, f"second reply {point}", root.ts)
    for message in (first, second):
        eventually(
            lambda m=message: "white_check_mark" in world.reactions(m["ts"]),  # type: ignore[misc]
            timeout=40,
            what="✅",
        )

    def check() -> None:
        texts = [
            str(e.data.get("message"))
            for e in world.parlant_events(session, kinds="message")
            if point in str(e.data.get("message"))
        ]
        assert texts == [f"first reply {point}", f"second reply {point}"]

    quiet_then(check)


def handback_case(world: SlackWorld, point: str) -> None:
    restart(world, point)
    session, root = world.escalated_session()
    world.click(root.ts, "escalation_return", world.dana)

    def form() -> dict[str, str] | None:
        for view in world.opened_views():
            meta = json.loads(view.get("private_metadata") or "{}")
            if meta.get("session_id") == session:
                return view
        return None

    view = eventually(form, what="the handback form")
    note = f"handback note {point}"
    world.submit_view(view["id"], world.dana, {"handback_note": {"note": note}})
    crashed(world, point)
    restart(world, None)
    assert world.client.sessions.retrieve(session).metadata["handoff"]["status"] == "returned"
    world.wait_in_thread(root.ts, "Handed back to the AI by Dana", timeout=40)

    def check() -> None:
        texts = world.thread_texts(root.ts)
        assert count(texts, "Handed back to the AI by Dana") == 1, texts

    quiet_then(check)


def sla_notices(world: SlackWorld, session: str) -> dict[str, int]:
    assert world.supervisors is not None
    found: dict[str, int] = {}
    for channel in (world.channel, world.supervisors):
        for message in world.slack.call(world.fake.messages, channel):
            payload = (message.metadata or {}).get("event_payload") or {}
            if (message.metadata or {}).get("event_type") == "insurance_sla_notice" and payload.get(
                "session_id"
            ) == session:
                found[payload["kind"]] = found.get(payload["kind"], 0) + 1
    return found


def sla_case(world: SlackWorld, point: str) -> None:
    restart(world, point, SLA_ENV)
    session, _ = world.escalated_session()
    crashed(world, point)
    restart(world, None, SLA_ENV)
    kinds = {"claim_reminder": 1, "claim_breach": 1, "first_reply_breach": 1}
    eventually(lambda: sla_notices(world, session).keys() == kinds.keys(), timeout=60, what="SLA")

    def check() -> None:
        assert sla_notices(world, session) == kinds

    # A second notice could only come from a resync of the unchanged session.
    quiet_then(check, RESYNC_QUIET_S)


def root_case(world: SlackWorld, point: str) -> None:
    restart(world, point)
    world.slack.run(world.fake.go_down())
    try:
        session = new_session(world.client)
        asked = say(world.client, session, "I want to talk to a human, root crash")
        wait_for_ai_reply(world.client, session, asked)
    finally:
        world.slack.run(world.fake.come_up())
    crashed(world, point)
    restart(world, None)
    root = world.root_for(session)
    eventually(
        lambda: world.record(session).get("slack", {}).get("ts") == root.ts,
        timeout=40,
        what="the thread link in the record",
    )

    def check() -> None:
        roots = [
            m
            for m in world.top_level()
            if ((m.metadata or {}).get("event_payload") or {}).get("session_id") == session
        ]
        assert len(roots) == 1

    quiet_then(check)


CASES: dict[str, Callable[[SlackWorld, str], None]] = {
    "mirror": mirror_case,
    "outbox": outbox_case,
    "handback": handback_case,
    "sla": sla_case,
    "root": root_case,
}


def test_every_crash_point_has_a_case() -> None:
    assert {point.split(".")[0] for point in POINTS} == CASES.keys()
    # `make test` splits this module in halves by pipeline (tests/support/scheduling.py).
    assert CRASH_POINT_HALVES.keys() == CASES.keys()


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_crash_at_each_point_loses_doubles_and_reorders_nothing(
    world: SlackWorld, point: str
) -> None:
    CASES[point.split(".")[0]](world, point)
