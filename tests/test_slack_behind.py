"""A channel that falls behind Slack's pace says so: real agent, real bridge, the fake Slack.

The channel is paced at one post every 10 s (SLACK_POSTS_PER_SECOND=0.1) and counts as behind
after 2 s (SLACK_BEHIND_AFTER_SECONDS), so a customer message after the handoff's first post
waits long enough: the bridge reports the wait to the agent (what the dashboard and the overflow rule
read) and posts one line into the channel, ahead of the mirrored message waiting there.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.chat import say
from tests.support.slack_world import (
    OPERATOR_HEADERS,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)

SLOW = {"SLACK_POSTS_PER_SECOND": "0.1", "SLACK_BEHIND_AFTER_SECONDS": "2"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world("socket", tmp_path_factory.mktemp("behind"), extra_env=SLOW)
    yield setup
    stop_world(setup)


def backlog(world: SlackWorld) -> dict[str, dict[str, float]]:
    answer = httpx.get(
        f"{world.agent.url}/escalations/slack-backlog", headers=OPERATOR_HEADERS, timeout=10
    )
    assert answer.status_code == 200
    channels: dict[str, dict[str, float]] = answer.json()["channels"]
    return channels


def test_a_channel_behind_is_reported_and_says_so_before_the_waiting_mirror(
    world: SlackWorld,
) -> None:
    session, root = world.escalated_session()
    say(world.client, session, "Is anyone there?")
    # The handoff's own messages and this one take the channel's burst in one post; the next
    # message waits for the channel's next slot, ten seconds on.
    world.wait_in_thread(root.ts, "Is anyone there?")
    say(world.client, session, "Hello? My flight leaves tonight.")

    # The report is refreshed every few seconds: its first one may come before the message
    # has waited the 2 s that count as behind.
    def behind() -> dict[str, float] | None:
        shown = backlog(world).get(world.channel)
        return shown if shown and shown["oldest_wait_seconds"] >= 2 else None

    shown = eventually(behind, timeout=40, what="the channel's backlog, 2 s behind")
    assert shown["waiting"] >= 1
    note = eventually(
        lambda: next((m for m in world.top_level() if "This channel is behind" in m.text), None),
        timeout=40,
        what="the channel's behind line",
    )
    assert "SLACK_OVERFLOW_CHANNEL" in note.text  # none set: it says how to get one
    mirrored = world.wait_in_thread(root.ts, "My flight leaves tonight", timeout=60)
    assert float(note.ts) < float(mirrored.ts)  # the line went first, the mirror waited
    eventually(lambda: world.channel not in backlog(world), timeout=30, what="caught up")
    notes = [m for m in world.top_level() if "This channel is behind" in m.text]
    assert len(notes) == 1
