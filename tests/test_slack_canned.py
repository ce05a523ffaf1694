"""Canned replies from Slack (slack_bridge/canned.py): real agent (offline NLP), real bridge,
the fake Slack. The message shortcut in an escalation thread opens a search over the replies
supervisors keep; the chosen one reaches the customer once, filled from their record, through
the outbox like any reply; one that cannot be filled whole is refused in the form and nothing
is sent; only operators get the form.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from handoff import actions
from handoff.actions import Operator
from slack_bridge.canned_form import (
    PICK_ACTION,
    PICK_BLOCK,
    SHORTCUT_CANNED,
    VIEW_CANNED,
    option_text,
    options,
)
from slack_bridge.check import REQUIRED_SCOPES
from slack_bridge.feedback import DELIVERED
from tests.fakes.fake_slack import Message
from tests.support.agent_process import REPO_ROOT
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.slack_world import (
    OPERATOR_HEADERS,
    QUIET_S,
    SlackWorld,
    eventually,
    manifest_shortcuts,
    start_world,
    stop_world,
)
from tests.support.waits import stays

POLICY_CHECK = "Hi {first_name}, I checked policy {policy_number} for {customer_name}."


def test_the_manifest_declares_the_shortcut_and_the_scopes_the_check_asks_for() -> None:
    manifest = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())
    assert manifest_shortcuts() == {SHORTCUT_CANNED: "message"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES


def test_options_fit_slacks_limits() -> None:
    listed = options([{"id": str(n), "title": "T" * 60, "category": "C" * 30} for n in range(150)])
    assert len(listed) == 100
    assert all(len(o["text"]["text"]) <= 75 for o in listed)
    assert option_text("Delay", "") == "Delay"
    assert option_text("Delay", "Claims") == "Delay · Claims"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world("socket", tmp_path_factory.mktemp("canned"), operator_allowlist=True)
    yield setup
    stop_world(setup)


@pytest.fixture(scope="module")
def replies(world: SlackWorld) -> dict[str, str]:
    """Two saved replies, as a supervisor keeps them (the dashboard calls the same route)."""
    made = {}
    with httpx.Client(base_url=world.agent.url, headers=OPERATOR_HEADERS, timeout=30) as http:
        for title, body, category in (
            ("Policy check", POLICY_CHECK, "Policy"),
            ("Thanks for waiting", "Thanks for waiting, {first_name}.", ""),
        ):
            answer = http.post(
                "/escalations/canned-replies",
                json={"title": title, "body": body, "category": category},
            )
            assert answer.status_code == 201, answer.text
            made[title] = answer.json()["id"]
    return made


def canned_count(world: SlackWorld, outcome: str) -> float:
    """The bridge's bridge_canned_replies counter for `outcome`, from its /metrics."""
    text = httpx.get(f"{world.bridge.metrics_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "bridge_canned_replies_total" and sample.labels == {"outcome": outcome}
    )


def from_people(world: SlackWorld, session: str) -> list[str]:
    """What the customer got from people: the operators' messages in their session."""
    return [
        str(e.data["message"])
        for e in world.parlant_events(session, kinds="message")
        if e.source == "human_agent"
    ]


def canned_form(world: SlackWorld, opened_before: int) -> dict[str, Any]:
    return eventually(
        lambda: [
            v for v in world.opened_views()[opened_before:] if v["callback_id"] == VIEW_CANNED
        ],
        what="the canned reply form",
    )[-1]


def thread_message(world: SlackWorld, root_ts: str) -> Message:
    """A message in the thread (the mirrored customer messages), to use the shortcut on."""
    return eventually(lambda: world.thread(root_ts)[:1], what="a message in the thread")[0]


def test_a_canned_reply_reaches_the_customer_once_filled(
    world: SlackWorld, replies: dict[str, str]
) -> None:
    session, root = world.escalated_session()
    queued = canned_count(world, "queued")
    before = len(world.opened_views())
    world.shortcut(thread_message(world, root.ts).ts, SHORTCUT_CANNED, world.dana)
    form = canned_form(world, before)

    listed = world.search(form["id"], PICK_ACTION, "", world.dana)
    assert {o["value"] for o in listed} >= set(replies.values())
    searched = world.search(form["id"], PICK_ACTION, "policy", world.dana)
    assert [o["text"]["text"] for o in searched] == ["Policy check · Policy"]

    chosen = {PICK_BLOCK: {PICK_ACTION: replies["Policy check"]}}
    assert world.submit_view(form["id"], world.dana, {}, chosen) is None  # the form closes
    filled = "Hi Sam, I checked policy POL-1001 for Sam Carter."
    eventually(lambda: from_people(world, session) == [filled], what="the filled reply")
    post = world.wait_in_thread(root.ts, "Canned reply")
    assert filled in json.dumps(post.blocks) and f"<@{world.dana}>" in post.text
    eventually(lambda: DELIVERED in world.reactions(post.ts), what="the ✅ on the post")

    # Send pressed again on the same form (Slack waited): still one.
    world.submit_view(form["id"], world.dana, {}, chosen)

    def once() -> None:
        assert from_people(world, session) == [filled]
        assert sum("Canned reply" in m.text for m in world.thread(root.ts)) == 1

    stays(once, QUIET_S)
    assert canned_count(world, "queued") == queued + 1
    # The event carries the thread post as its origin: the reply key the agent dedupes on.
    event = next(
        e for e in world.parlant_events(session, kinds="message") if e.source == "human_agent"
    )
    assert (event.metadata or {})["slack"]["ts"] == post.ts


def test_a_reply_without_the_customers_data_is_refused_in_the_form(
    world: SlackWorld, replies: dict[str, str]
) -> None:
    # A guest: no name, no policy on record.
    session = new_session(world.client, customer_id="guest")
    wait_for_ai_reply(world.client, session, say(world.client, session, "I want a human"))
    root = world.root_for(session)
    refused = canned_count(world, "refused")
    before = len(world.opened_views())
    world.shortcut(root.ts, SHORTCUT_CANNED, world.lee)  # the root message works as well
    form = canned_form(world, before)
    world.search(form["id"], PICK_ACTION, "", world.lee)
    answer = world.submit_view(
        form["id"], world.lee, {}, {PICK_BLOCK: {PICK_ACTION: replies["Policy check"]}}
    )
    assert answer is not None and answer["response_action"] == "errors"
    why = answer["errors"][PICK_BLOCK]
    assert "{policy_number}" in why and "Not sent" in why

    def nothing_sent() -> None:
        assert from_people(world, session) == []
        assert not any("Canned reply" in m.text for m in world.thread(root.ts))

    stays(nothing_sent, QUIET_S)
    assert canned_count(world, "refused") == refused + 1


def test_only_operators_in_an_escalation_thread_get_the_form(
    world: SlackWorld, replies: dict[str, str]
) -> None:
    session, root = world.escalated_session()
    before = len(world.opened_views())
    world.shortcut(root.ts, SHORTCUT_CANNED, world.mallory)  # not on SLACK_OPERATOR_IDS
    eventually(
        lambda: [
            e
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
            if e.user == world.mallory and "operators" in e.text
        ],
        what="mallory told why",
    )
    chatter = world.slack.call(world.fake.add_user_message, world.channel, world.dana, "lunch?")
    world.shortcut(chatter["ts"], SHORTCUT_CANNED, world.dana)
    eventually(
        lambda: [
            e
            for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
            if e.user == world.dana and "escalation's thread" in e.text
        ],
        what="dana told to use it in a thread",
    )
    assert [v for v in world.opened_views()[before:] if v["callback_id"] == VIEW_CANNED] == []

    # A form opened by an operator and submitted by someone else is refused too.
    world.shortcut(root.ts, SHORTCUT_CANNED, world.dana)
    form = canned_form(world, before)
    assert world.search(form["id"], PICK_ACTION, "", world.mallory) == []
    world.search(form["id"], PICK_ACTION, "", world.dana)
    answer = world.submit_view(
        form["id"], world.mallory, {}, {PICK_BLOCK: {PICK_ACTION: replies["Thanks for waiting"]}}
    )
    assert answer is not None and "operators" in answer["errors"][PICK_BLOCK]
    stays(lambda: assert_none(from_people(world, session)), QUIET_S)


def assert_none(sent: list[str]) -> None:
    assert sent == []


def test_a_canned_reply_to_a_resolved_handoff_is_refused_in_the_form(
    world: SlackWorld, replies: dict[str, str]
) -> None:
    session, root = world.escalated_session()
    before = len(world.opened_views())
    world.shortcut(root.ts, SHORTCUT_CANNED, world.dana)
    form = canned_form(world, before)
    world.search(form["id"], PICK_ACTION, "thanks", world.dana)
    # Another operator resolves it while the form is open.
    asyncio.run(
        actions.resolve(world.operator_api(), session, Operator("slack:U0LEE", "Lee", "slack"))
    )
    answer = world.submit_view(
        form["id"], world.dana, {}, {PICK_BLOCK: {PICK_ACTION: replies["Thanks for waiting"]}}
    )
    assert answer is not None and "not with a person" in answer["errors"][PICK_BLOCK]
    stays(lambda: assert_none(from_people(world, session)), QUIET_S)
