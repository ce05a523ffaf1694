"""The SLA clock end to end: real agent and bridge processes, the fake Slack, tiny targets.

The claim target is 5 s and the first-reply target 7 s (fractional minutes), so breaches
happen within a test; what a test checks before a breach is read from what was sent to Slack
(the fake's record of calls), not raced against the clock. The bridge here never resyncs an
unchanged session within a test (its safety resync is production's hour): every notice and
SLA line below is posted because discovery looked at the session when its clocks said so
(handoff/sla.py `next_changes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.fakes.fake_slack import Message
from tests.support.slack_world import (
    RESYNC_QUIET_S,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)
from tests.support.waits import stays

CLAIM_TARGET_S = 5
REPLY_TARGET_S = 7
# A duplicate notice or a missed one would show within this (the worlds' resync window, which
# is longer than the discovery pass that takes a notice when it falls due).
SETTLE_S = RESYNC_QUIET_S


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world(
        "http",
        tmp_path_factory.mktemp("sla"),
        extra_env={
            "SLA_CLAIM_TARGET_MINUTES": str(CLAIM_TARGET_S / 60),
            "SLA_FIRST_REPLY_TARGET_MINUTES": str(REPLY_TARGET_S / 60),
            "BRIDGE_RESYNC_SECONDS": "3600",
        },
        supervisor_channel=True,
    )
    yield setup
    stop_world(setup)


def text_of(message: Message) -> str:
    return message.text + json.dumps(message.blocks or [])


def notices(world: SlackWorld, session_id: str, kind: str) -> list[Message]:
    def carries(message: Message) -> bool:
        metadata = message.metadata or {}
        payload = metadata.get("event_payload") or {}
        return (
            metadata.get("event_type") == "insurance_sla_notice"
            and payload.get("session_id") == session_id
            and payload.get("kind") == kind
        )

    assert world.supervisors is not None
    everywhere = world.slack.call(world.fake.messages, world.channel) + world.slack.call(
        world.fake.messages, world.supervisors
    )
    return [m for m in everywhere if carries(m)]


def root_text(world: SlackWorld, session_id: str) -> str:
    return text_of(world.root_for(session_id))


def root_versions(world: SlackWorld, root_ts: str) -> list[str]:
    """Every text and blocks the root message was posted or updated with, in order."""
    calls = world.slack.call(world.fake.calls)
    return [
        str(call.params.get("text", "")) + json.dumps(call.params.get("blocks") or [])
        for call in calls
        if (call.method == "chat.update" and call.params.get("ts") == root_ts)
        or (call.method == "chat.postMessage" and (call.response or {}).get("ts") == root_ts)
    ]


def handed_off_at(world: SlackWorld, session_id: str) -> datetime:
    record: Any = (world.client.sessions.retrieve(session_id).metadata or {})["handoff"]
    return datetime.fromisoformat(record["requested_at"])


def seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())


def test_an_unclaimed_handoff_gets_one_reminder_one_notice_per_clock_and_a_red_root(
    world: SlackWorld,
) -> None:
    # The reminder's answer is lost: the bridge must find it, not repeat it.
    world.slack.call(
        world.fake.drop_response, "chat.postMessage", text="Nobody has claimed this escalation"
    )
    session, root = world.escalated_session()
    world.wait_in_thread(root.ts, "person will join")
    # Before the breach the root showed the running clock (read from what was sent, so a
    # breach that came first on a slow machine does not hide it).
    eventually(
        lambda: any(
            f"Claim under 1 min / {CLAIM_TARGET_S} s" in version
            for version in root_versions(world, root.ts)
        ),
        what="the SLA line",
    )

    reminder = world.wait_in_thread(
        root.ts, "Nobody has claimed this escalation", timeout=CLAIM_TARGET_S + 20
    )
    assert reminder.ts == notices(world, session, "claim_reminder")[0].ts
    claim_notice = eventually(
        lambda: notices(world, session, "claim_breach"), timeout=20, what="claim notice"
    )[0]
    assert claim_notice.channel == world.supervisors
    assert f"archives/{world.channel}/p{root.ts.replace('.', '')}" in text_of(claim_notice)
    eventually(
        lambda: notices(world, session, "first_reply_breach"),
        timeout=REPLY_TARGET_S + 20,
        what="first reply notice",
    )
    eventually(
        lambda: (
            ":red_circle: Claim" in root_text(world, session)
            and "breached" in root_text(world, session)
        ),
        what="the breach on the root message",
    )

    kinds = ("claim_reminder", "claim_breach", "first_reply_breach")

    def one_of_each() -> None:
        assert [len(notices(world, session, kind)) for kind in kinds] == [1, 1, 1]

    stays(one_of_each, SETTLE_S)

    world.bridge.kill()
    world.bridge.start()
    stays(one_of_each, SETTLE_S)
    reminders = [t for t in world.thread_texts(root.ts) if "Nobody has claimed" in t]
    assert len(reminders) == 1


def test_a_handoff_claimed_and_answered_in_time_gets_no_reminder_and_no_notice(
    world: SlackWorld,
) -> None:
    session, root = world.escalated_session()
    world.click(root.ts, "escalation_claim", world.dana)
    world.operator_writes(world.dana, "Hello, Dana here.", root.ts)
    eventually(
        lambda: (
            "first_human_reply_at"
            in ((world.client.sessions.retrieve(session).metadata or {})["handoff"] or {})
        ),
        what="the first reply recorded",
    )

    def nothing_posted() -> None:
        assert not [t for t in world.thread_texts(root.ts) if "Nobody has claimed" in t]
        for kind in ("claim_reminder", "claim_breach", "first_reply_breach"):
            assert notices(world, session, kind) == []

    # Past both targets and a resync after them, nothing was ever posted.
    last = handed_off_at(world, session) + timedelta(seconds=REPLY_TARGET_S + SETTLE_S)
    stays(nothing_posted, seconds_until(last))
    shown = root_text(world, session)
    assert "Claim met: claimed after" in shown and "First reply met: answered after" in shown


def test_a_bridge_killed_after_posting_a_notice_does_not_post_it_again(world: SlackWorld) -> None:
    """Dies after Slack accepted the first notice and before the state recorded it: after the
    restart the notice is found by its metadata, not posted again."""
    world.bridge.restart(crash_at="sla.after_post")
    try:
        session, _ = world.escalated_session()
        world.bridge.wait_crashed("sla.after_post", timeout=CLAIM_TARGET_S + 40)
    finally:
        world.bridge.restart()
    kinds = ("claim_reminder", "claim_breach", "first_reply_breach")
    eventually(
        lambda: all(notices(world, session, kind) for kind in kinds),
        timeout=REPLY_TARGET_S + 30,
        what="every notice",
    )

    def one_of_each() -> None:
        assert [len(notices(world, session, kind)) for kind in kinds] == [1, 1, 1]

    stays(one_of_each, SETTLE_S)
