"""Hostile and extreme input end to end: real agent (offline NLP) and bridge processes, fake
Slack in HTTP mode, one world for the module. Both processes log at debug level, the most a
deployment can log, so the secrets check covers every log line the code can write."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
import streamlit as st
from parlant.client.errors import UnprocessableEntityError
from streamlit.testing.v1 import AppTest

from dashboard.auth import UNLOCKED_KEY
from slack_kit.text import EMPTY_MESSAGE
from tests.fakes import event_callback, message_event, signed_headers
from tests.fakes.fake_slack import MAX_BLOCKS, MAX_TEXT, Message
from tests.support.chat import say
from tests.support.slack_world import (
    OPERATOR_TOKEN,
    QUIET_S,
    SIGNING_SECRET,
    SlackWorld,
    eventually,
    start_world,
    stop_world,
)
from tests.support.waits import stays

SECTION_LIMIT = 3000
PART = re.compile(r"_\(part (\d+)/(\d+)\)_ ")
EMOJI_AND_RTL = "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 🇯🇵🇫🇷 👍🏽 مرحبا بالعالم \u200fשלום עולם\u200e می\u200cخواهم"
HOSTILE_MARKUP = (
    "<!channel> <@U123> <https://evil.example|your bank> <script>alert(1)</script> *bold*"
)
DASHBOARD_PASSWORD = "hostile-dashboard-password"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world(
        "http", tmp_path_factory.mktemp("hostile"), extra_env={"LOG_LEVEL": "debug"}
    )
    yield setup
    stop_world(setup)


@pytest.fixture(scope="module")
def escalation(world: SlackWorld) -> tuple[str, Message]:
    return world.escalated_session()


def shown(message: Message) -> str:
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


def mirrored_parts(world: SlackWorld, root_ts: str, event_id: str) -> list[Message]:
    return [
        m
        for m in world.thread(root_ts)
        if ((m.metadata or {}).get("event_payload") or {}).get("event_id") == event_id
    ]


def section_text(message: Message) -> str:
    [block] = message.blocks or []
    return str(block["text"]["text"])


def operator_events(world: SlackWorld, session: str) -> list[Any]:
    return world.parlant_events(session, source="human_agent")


# --- size -----------------------------------------------------------------------------------


def test_a_50k_customer_message_is_mirrored_in_ordered_parts_within_slack_limits(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    words = [f"w{n:05d}" for n in range(7200)]
    text = " ".join(words)
    assert len(text) > 50_000
    say(world.client, session, text)
    [event] = [
        e for e in world.parlant_events(session, kinds="message") if e.data.get("message") == text
    ]

    last = world.wait_in_thread(root.ts, "more characters not shown", timeout=60)
    parts = mirrored_parts(world, root.ts, event.id)
    assert parts[-1].ts == last.ts and len(parts) > 1
    markers = [PART.search(section_text(p)) for p in parts]
    assert [m.groups() for m in markers if m] == [
        (str(i), str(len(parts))) for i in range(1, len(parts) + 1)
    ]
    for part in parts:
        assert len(part.blocks or []) <= MAX_BLOCKS
        assert len(section_text(part)) <= SECTION_LIMIT and len(part.text) <= MAX_TEXT
    # In order, nothing repeated or skipped up to where the notice cuts it.
    seen = [w for p in parts for w in re.findall(r"w\d{5}", section_text(p))]
    assert seen == words[: len(seen)] and len(seen) > 5000
    # Nothing refused for its content; a 429 (the fake holds Slack's one post a second per
    # channel) is waited out and the part posted after it, in order, as checked above.
    refused = [
        c
        for c in world.fake.calls("chat.postMessage")
        if c.response and not c.response.get("ok") and c.status != 429
    ]
    assert refused == []


def test_the_longest_operator_reply_slack_sends_reaches_parlant_whole_once(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    reply = ("Here is everything about your claim. " * 1100)[:MAX_TEXT].strip()
    assert len(reply) > 39_000
    event, event_id = world.operator_writes(world.dana, reply, root.ts)
    eventually(
        lambda: "white_check_mark" in world.reactions(event["ts"]),
        timeout=30,
        what="the ✅ reaction",
    )
    world.redeliver(event, event_id)

    def once() -> None:
        delivered = [e for e in operator_events(world, session) if e.data.get("message") == reply]
        assert len(delivered) == 1

    stays(once, QUIET_S)


# --- empty ----------------------------------------------------------------------------------


def test_empty_and_whitespace_customer_messages_are_shown_as_empty(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    # Parlant itself refuses an empty message; whitespace only is stored as written.
    with pytest.raises(UnprocessableEntityError):
        say(world.client, session, "")
    for text in (" ", "  \n\t  "):
        say(world.client, session, text)
    stored = [
        e
        for e in world.parlant_events(session, kinds="message", source="customer")
        if not e.data["message"].strip()
    ]
    assert [e.data["message"] for e in stored] == [" ", "  \n\t  "]
    for event in stored:
        [part] = eventually(
            partial(mirrored_parts, world, root.ts, event.id), what="the empty message mirrored"
        )
        assert EMPTY_MESSAGE in section_text(part)


def test_a_whitespace_only_operator_reply_is_not_sent_and_the_operator_is_told(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    before = len(world.parlant_events(session))
    for text in ("   \n  ", "ai:    "):
        world.operator_writes(world.dana, text, root.ts)
    eventually(
        lambda: (
            len([m for m in world.thread(root.ts) if "had no text, so nothing was sent" in m.text])
            == 2
        ),
        what="a note for each empty reply",
    )
    assert not [
        e
        for e in world.parlant_events(session)[before:]
        if e.source in ("human_agent", "human_agent_on_behalf_of_ai_agent")
    ]


# --- unicode and markup ---------------------------------------------------------------------


def test_emoji_and_right_to_left_text_cross_unchanged_both_ways(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    world.operator_writes(world.lee, f"{EMOJI_AND_RTL} & <3", root.ts)
    eventually(
        lambda: [
            e
            for e in operator_events(world, session)
            if e.data.get("message") == f"{EMOJI_AND_RTL} & <3"
        ],
        what="the operator's emoji and RTL text in Parlant, as typed",
    )

    say(world.client, session, f"\u202e{EMOJI_AND_RTL}\u202c from the customer")
    mirrored = world.wait_in_thread(root.ts, "from the customer")
    assert f"{EMOJI_AND_RTL} from the customer" in section_text(mirrored)
    assert "\u202e" not in shown(mirrored) and "\u202c" not in shown(mirrored)


def test_customer_markup_is_inert_in_the_slack_copy(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    say(world.client, session, f"{HOSTILE_MARKUP} end of markup")
    mirrored = world.wait_in_thread(root.ts, "end of markup")
    for live in ("<!channel>", "<@U123>", "<https://evil.example|your bank>", "<script>"):
        assert live not in shown(mirrored), live
    text = section_text(mirrored)
    assert (
        "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|your bank&gt; &lt;script&gt;"
        in text
    )
    assert (
        "*bold*" in text
    )  # formatting only: Slack has no escape for it, and it cannot mention or link


# --- events that belong to no escalation -------------------------------------------------------


def test_events_for_unknown_threads_and_channels_are_acknowledged_and_dropped(
    world: SlackWorld, escalation: tuple[str, Message]
) -> None:
    session, root = escalation
    plain = world.slack.call(
        world.fake.add_user_message, world.channel, world.dana, "not an escalation"
    )
    stray = world.slack.call(
        world.fake.add_user_message, world.channel, world.dana, "stray reply", thread_ts=plain["ts"]
    )
    world.deliver(stray, f"EvStray{time.time_ns()}")
    # A reply naming a real escalation thread but a channel the bridge does not serve.
    forged = message_event(
        channel="C0UNKNOWN", user=world.dana, text="wrong channel", thread_ts=root.ts
    )
    body = json.dumps(event_callback(forged, event_id=f"EvForged{time.time_ns()}")).encode()
    answer = httpx.post(
        world.bridge_url, content=body, headers=signed_headers(SIGNING_SECRET, body), timeout=10
    )
    assert answer.status_code == 200
    # A later reply in the real thread is delivered, so the two above had their chance.
    world.operator_writes(world.dana, "the real reply", root.ts)
    eventually(
        lambda: [
            e for e in operator_events(world, session) if e.data.get("message") == "the real reply"
        ]
    )
    messages = [e.data.get("message") for e in operator_events(world, session)]
    assert "stray reply" not in messages and "wrong channel" not in messages
    assert world.reactions(stray["ts"]) == {}


# --- secrets ----------------------------------------------------------------------------------


def secrets(world: SlackWorld) -> dict[str, str]:
    return {
        "bot token": world.fake.bot_token,
        "app token": world.fake.app_token,
        "signing secret": SIGNING_SECRET,
        "operator token": OPERATOR_TOKEN,
        "dashboard password": DASHBOARD_PASSWORD,
    }


def test_secrets_never_reach_the_logs(world: SlackWorld, escalation: tuple[str, Message]) -> None:
    session, root = escalation
    world.operator_writes(world.dana, "one more for the logs", root.ts)
    eventually(
        lambda: [
            e
            for e in operator_events(world, session)
            if e.data.get("message") == "one more for the logs"
        ]
    )
    logs = {
        "agent": world.agent.log_path.read_text(errors="replace"),
        "bridge": world.bridge.log_path.read_text(errors="replace"),
    }
    assert "DEBUG" in logs["bridge"] and "reply delivered" in logs["bridge"]
    for process, log in logs.items():
        for name, secret in secrets(world).items():
            assert secret not in log, f"the {name} is in the {process} log"


def test_the_dashboard_never_renders_secrets(
    world: SlackWorld, escalation: tuple[str, Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    session, _ = escalation
    say(world.client, session, "shown on the dashboard")
    monkeypatch.setenv("DOTENV_PATH", "/nonexistent/.env")
    monkeypatch.setenv("PARLANT_URL", world.agent.url)
    monkeypatch.setenv("PARLANT_OPERATOR_TOKEN", OPERATOR_TOKEN)
    monkeypatch.setenv("DASHBOARD_PASSWORD", DASHBOARD_PASSWORD)
    monkeypatch.setenv("SLACK_BOT_TOKEN", world.fake.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_ESCALATION_CHANNEL", world.channel)
    st.cache_resource.clear()
    st.cache_data.clear()

    at = AppTest.from_file("../dashboard/app.py", default_timeout=60)
    at.query_params["session"] = session
    at.session_state[UNLOCKED_KEY] = time.time() + 3600  # signed in (see test_dashboard_signin)
    at.run()
    assert not at.exception, at.exception
    rendered = "\n".join(str(node.proto) for node in (*at.main, *at.sidebar))
    assert "shown on the dashboard" in rendered  # signed in: the transcript is there
    for name, secret in secrets(world).items():
        assert secret not in rendered, f"the dashboard shows the {name}"
