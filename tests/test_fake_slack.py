"""The fake Slack, exercised only through the real clients the project uses: slack_sdk and Bolt."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import (
    AckTimeout,
    FakeSlack,
    RateLimits,
    block_actions_body,
    message_event_body,
    signed_headers,
)
from tests.fakes.slack_signing import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    message_event,
    new_trigger_id,
)

HANDOFF = {
    "event_type": "handoff_mirror",
    "event_payload": {"session_id": "s-1", "event_id": "e-7"},
}
CLAIM_BUTTON = {
    "type": "actions",
    "block_id": "handoff",
    "elements": [
        {
            "type": "button",
            "action_id": "claim",
            "value": "s-1",
            "text": {"type": "plain_text", "text": "Claim"},
        }
    ],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as running:
        yield running


@pytest.fixture
def channel(fake: FakeSlack) -> str:
    return fake.add_channel("escalations")


def web_client(fake: FakeSlack, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, **options)


async def api_error(call: Awaitable[object]) -> SlackApiError:
    """The SlackApiError an awaited client call raises."""
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


async def error_code(call: Awaitable[object]) -> str:
    """Slack's `error` field of a call that must fail."""
    return str((await api_error(call)).response["error"])


def bolt_request(body: bytes, headers: dict[str, str]) -> AsyncBoltRequest:
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    return AsyncBoltRequest(body=body.decode(), headers=bolt_headers)


# ---------------------------------------------------------------------------------------------
# Web API through AsyncWebClient


async def test_messages_threads_and_metadata_round_trip(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)
    root = await client.chat_postMessage(channel=channel, text="Escalation", blocks=[CLAIM_BUTTON])
    reply = await client.chat_postMessage(
        channel=channel, thread_ts=root["ts"], text="Hi", metadata=HANDOFF
    )
    await client.chat_update(channel=channel, ts=root["ts"], text="Escalation (claimed)")

    thread = await client.conversations_replies(
        channel=channel, ts=root["ts"], include_all_metadata=True
    )
    parent, child = thread["messages"]
    assert (parent["text"], parent["reply_count"], parent["blocks"]) == (
        "Escalation (claimed)",
        1,
        [CLAIM_BUTTON],
    )
    assert (child["text"], child["thread_ts"], child["metadata"]) == ("Hi", root["ts"], HANDOFF)
    assert child["bot_id"] == BOT_ID and child["user"] == BOT_USER_ID
    plain = await client.conversations_replies(channel=channel, ts=reply["ts"], limit=1)
    assert [m["ts"] for m in plain["messages"]] == [root["ts"]] and "metadata" not in plain[
        "messages"
    ][0]
    assert plain["has_more"] is True and plain["response_metadata"]["next_cursor"]

    broadcast = await client.chat_postMessage(
        channel=channel, thread_ts=root["ts"], text="Fyi", reply_broadcast=True
    )
    history = await client.conversations_history(channel=channel)
    # Replies stay in their thread unless broadcast; newest first.
    assert [(m["ts"], m.get("subtype")) for m in history["messages"]] == [
        (broadcast["ts"], "thread_broadcast"),
        (root["ts"], None),
    ]
    later = await client.conversations_history(channel=channel, oldest=root["ts"])
    assert [m["ts"] for m in later["messages"]] == [broadcast["ts"]]
    link = await client.chat_getPermalink(channel=channel, message_ts=reply["ts"])
    assert link["permalink"].endswith(f"?thread_ts={root['ts']}&cid={channel}")
    assert [m.ts for m in fake.messages(channel, thread_ts=root["ts"])] == [
        root["ts"],
        reply["ts"],
        broadcast["ts"],
    ]
    assert root["ts"] < reply["ts"] and root.headers["x-oauth-scopes"] == ",".join(fake.scopes)


async def test_form_and_query_arguments_and_extra_team_id(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake, team_id=TEAM_ID)  # adds team_id to every call, as org-wide apps do
    posted = await client.api_call(
        "chat.postMessage",
        data={"channel": channel, "text": "form", "metadata": json.dumps(HANDOFF)},
    )
    read = await client.api_call(
        "conversations.replies",
        http_verb="GET",
        params={"channel": channel, "ts": posted["ts"], "include_all_metadata": True},
    )
    assert read["messages"][0]["metadata"] == HANDOFF
    assert fake.calls("conversations.replies")[0].params == {
        "channel": channel,
        "ts": posted["ts"],
        "include_all_metadata": "1",
        "team_id": TEAM_ID,
    }


READ_METHODS_SENT_AS_JSON = [
    # (method, arguments, Slack's answer when it does not see them)
    ("conversations.replies", {"ts": "1.000001"}, "channel_not_found"),
    ("conversations.history", {}, "channel_not_found"),
    ("users.info", {"user": "U0OPERATOR"}, "user_not_found"),
    ("chat.getPermalink", {"message_ts": "1.000001"}, "invalid_arguments"),
]


@pytest.mark.parametrize(("method", "extra", "error"), READ_METHODS_SENT_AS_JSON)
async def test_read_methods_do_not_read_a_json_body(
    fake: FakeSlack, channel: str, method: str, extra: dict[str, str], error: str
) -> None:
    """Slack's published contract: these methods consume form or query arguments only; a JSON
    body's arguments are not seen (users report channel_not_found, invalid_arguments and
    user_not_found)."""
    fake.add_user("dana", user_id="U0OPERATOR")
    posted = await web_client(fake).chat_postMessage(channel=channel, text="root")
    arguments = {"channel": channel, **extra}
    if "ts" in arguments or "message_ts" in arguments:
        arguments = {k: posted["ts"] if k.endswith("ts") else v for k, v in arguments.items()}
    assert await error_code(web_client(fake).api_call(method, json=arguments)) == error
    refused = fake.calls(method)[-1]
    assert (refused.encoding, refused.ignored) == ("json", tuple(sorted(arguments)))
    # The same arguments as a query string, the way slack_sdk's own method sends them, work.
    answer = await web_client(fake).api_call(method, http_verb="GET", params=arguments)
    assert answer["ok"] is True and fake.calls(method)[-1].encoding == "query"


def test_the_fake_serves_only_methods_of_the_vendored_contract() -> None:
    """Every method the fake answers is in Slack's published spec (tests/fakes/slack_spec), and
    the four reads the bridge makes are the ones that spec says take no JSON."""
    from tests.fakes.fake_slack import _HANDLERS, SPEC

    assert set(_HANDLERS) <= set(SPEC)
    no_json = {name for name, entry in SPEC.items() if "application/json" not in entry["consumes"]}
    assert {m for m, _, _ in READ_METHODS_SENT_AS_JSON} <= no_json
    assert "chat.postMessage" not in no_json and "chat.update" not in no_json


async def test_required_arguments_of_the_contract_are_enforced(
    fake: FakeSlack, channel: str
) -> None:
    client = web_client(fake)
    missing = await api_error(client.api_call("reactions.add", params={"channel": channel}))
    assert missing.response["error"] == "invalid_arguments"
    assert missing.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: name",
        "[ERROR] missing required field: timestamp",
    ]


async def test_a_json_body_cannot_carry_the_token(fake: FakeSlack, channel: str) -> None:
    """JSON callers must send the token in the Authorization header."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{fake.api_url}chat.postMessage",
            json={"token": fake.bot_token, "channel": channel, "text": "hi"},
        ) as answer,
    ):
        assert (await answer.json())["error"] == "not_authed"


async def test_auth_errors_and_unknown_methods(fake: FakeSlack, channel: str) -> None:
    wrong = AsyncWebClient(token="xoxb-not-this-one", base_url=fake.api_url)
    assert await error_code(wrong.auth_test()) == "invalid_auth"
    anonymous = AsyncWebClient(base_url=fake.api_url)
    assert await error_code(anonymous.auth_test()) == "not_authed"
    app_level = AsyncWebClient(token=fake.app_token, base_url=fake.api_url)
    assert (
        await error_code(app_level.chat_postMessage(channel=channel, text="x"))
        == "not_allowed_token_type"
    )
    client = web_client(fake)
    bot_socket = client.apps_connections_open(app_token=fake.bot_token)
    assert await error_code(bot_socket) == "not_allowed_token_type"
    assert await error_code(client.api_call("chat.scheduleTeleport")) == "unknown_method"

    identity = await client.auth_test()
    assert (identity["user_id"], identity["bot_id"], identity["team_id"]) == (
        BOT_USER_ID,
        BOT_ID,
        TEAM_ID,
    )
    assert [call.method for call in fake.calls()][-1] == "auth.test"


async def test_content_checks_match_slack(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        assert await error_code(client.chat_postMessage(channel=channel)) == "no_text"
    too_long = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    invalid = await api_error(client.chat_postMessage(channel=channel, text="t", blocks=too_long))
    assert invalid.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in invalid.response["response_metadata"]["messages"][0]
    orphan = client.chat_postMessage(channel=channel, text="t", thread_ts="1.000001")
    assert await error_code(orphan) == "thread_not_found"
    unknown = client.chat_postMessage(channel="C0NOWHERE", text="t")
    assert await error_code(unknown) == "channel_not_found"
    outside = fake.add_channel("elsewhere", bot_is_member=False)
    not_member = client.chat_postMessage(channel=outside, text="t")
    assert await error_code(not_member) == "not_in_channel"
    assert fake.messages(channel) == []


async def test_message_size_limits_match_slack(fake: FakeSlack, channel: str) -> None:
    fake.limits.enabled = False  # four posts in a row to one channel: about sizes, not pace
    client = web_client(fake)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    too_many = await api_error(
        client.chat_postMessage(channel=channel, text="t", blocks=[section] * 51)
    )
    assert too_many.response["error"] == "invalid_blocks"
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert (
        await error_code(client.chat_postMessage(channel=channel, text="t", blocks=long_section))
        == "invalid_blocks"
    )
    await client.chat_postMessage(channel=channel, text="t", blocks=[section] * 50)
    await client.chat_postMessage(channel=channel, text="y" * 40_001)
    assert [len(m.text) for m in fake.messages(channel)] == [1, 40_000]  # truncated, not refused


async def test_people_type_text_that_slack_encodes_and_caps(fake: FakeSlack, channel: str) -> None:
    event = fake.add_user_message(channel, "U0SAM", "Tom & Jerry <3 >")
    assert event["text"] == "Tom &amp; Jerry &lt;3 &gt;"
    mention = fake.add_user_message(channel, "U0SAM", "hi <@U0LEE>", encoded=True)
    assert mention["text"] == "hi <@U0LEE>"
    fake.add_user_message(channel, "U0SAM", "z" * 40_000)
    with pytest.raises(ValueError, match="msg_too_long"):
        fake.add_user_message(channel, "U0SAM", "z" * 40_001)


async def test_reactions_users_channels_and_scopes(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)
    alice = fake.add_user("alice", real_name="Alice Smith", display_name="Ali")
    fake.add_channel("support", channel_id="C0SUPPORT", members=[alice])
    posted = await client.chat_postMessage(channel="#support", text="hi")

    await client.reactions_add(channel="C0SUPPORT", timestamp=posted["ts"], name="white_check_mark")
    again = client.reactions_add(
        channel="C0SUPPORT", timestamp=posted["ts"], name="white_check_mark"
    )
    assert await error_code(again) == "already_reacted"
    assert fake.messages("C0SUPPORT")[0].reactions == {"white_check_mark": [BOT_USER_ID]}
    await client.reactions_remove(
        channel="C0SUPPORT", timestamp=posted["ts"], name="white_check_mark"
    )
    assert fake.messages("C0SUPPORT")[0].reactions == {}

    profile = (await client.users_info(user=alice))["user"]["profile"]
    assert (profile["display_name"], profile["real_name"]) == ("Ali", "Alice Smith")
    info = (await client.conversations_info(channel="C0SUPPORT", include_num_members=True))[
        "channel"
    ]
    assert (info["name"], info["num_members"], info["is_member"]) == ("support", 2, True)
    first = await client.conversations_members(channel="C0SUPPORT", limit=1)
    rest = await client.conversations_members(
        channel="C0SUPPORT", cursor=first["response_metadata"]["next_cursor"]
    )
    assert first["members"] + rest["members"] == [BOT_USER_ID, alice]

    fake.scopes.remove("users:read")
    missing = await api_error(client.users_info(user=alice))
    assert (missing.response["error"], missing.response["needed"]) == (
        "missing_scope",
        "users:read",
    )
    assert "users:read" not in missing.response.headers["x-oauth-scopes"]


async def test_views_and_ephemeral_messages(fake: FakeSlack) -> None:
    client = web_client(fake)
    sam = fake.add_user("sam")
    support = fake.add_channel("support", members=[sam])
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Note"}, "blocks": []}
    opened = (await client.views_open(trigger_id=new_trigger_id(), view=modal))["view"]
    updated = await client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": []}
    )
    stale = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert await error_code(stale) == "hash_conflict"
    assert fake.views() == [updated["view"]]

    form = {
        **modal,
        "callback_id": "form",
        "private_metadata": "m",
        "blocks": [
            {
                "type": "input",
                "block_id": "b",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "a"},
            }
        ],
    }
    shown = (await client.views_open(trigger_id=new_trigger_id(), view=form))["view"]
    submitted = fake.view_submission(shown["id"], user=sam, values={"b": {"a": "typed"}})
    assert (submitted["type"], submitted["user"]["id"]) == ("view_submission", sam)
    assert (submitted["view"]["callback_id"], submitted["view"]["private_metadata"]) == (
        "form",
        "m",
    )
    assert submitted["view"]["state"]["values"] == {
        "b": {"a": {"type": "plain_text_input", "value": "typed"}}
    }
    with pytest.raises(LookupError):
        fake.view_submission(shown["id"], user=sam, values={"b": {"other": "x"}})
    with pytest.raises(LookupError):
        fake.view_submission("V0NOPE", user=sam, values={})

    # A choice comes back as the option chosen, as Slack sends it; only an offered one.
    options = [{"text": {"type": "plain_text", "text": t}, "value": t.lower()} for t in "AB"]
    choice = {
        **form,
        "blocks": [
            {
                "type": "input",
                "block_id": "c",
                "label": {"type": "plain_text", "text": "Pick"},
                "element": {"type": "radio_buttons", "action_id": "r", "options": options},
            }
        ],
    }
    picked = (await client.views_open(trigger_id=new_trigger_id(), view=choice))["view"]
    answered = fake.view_submission(picked["id"], user=sam, values={"c": {"r": "b"}})
    assert answered["view"]["state"]["values"] == {
        "c": {"r": {"type": "radio_buttons", "selected_option": options[1]}}
    }
    with pytest.raises(LookupError):
        fake.view_submission(picked["id"], user=sam, values={"c": {"r": "z"}})

    await client.chat_postEphemeral(channel=support, user=sam, text="only you")
    assert [(m.user, m.text) for m in fake.ephemeral_messages(support)] == [(sam, "only you")]
    stranger = client.chat_postEphemeral(channel=support, user="U0STRANGER", text="x")
    assert await error_code(stranger) == "user_not_in_channel"


async def test_a_trigger_id_works_once_within_three_seconds(fake: FakeSlack) -> None:
    client = web_client(fake)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Note"}, "blocks": []}
    trigger = new_trigger_id()
    await client.views_open(trigger_id=trigger, view=modal)
    assert await error_code(client.views_open(trigger_id=trigger, view=modal)) == (
        "exchanged_trigger_id"
    )
    old = f"{time.time_ns() // 1_000_000 - 3_100}.1.fake"  # made by a click 3.1 s ago
    assert await error_code(client.views_open(trigger_id=old, view=modal)) == "expired_trigger_id"
    made_up = client.views_open(trigger_id="12345.67890.abc", view=modal)
    assert await error_code(made_up) == "invalid_trigger_id"
    long_title = {**modal, "title": {"type": "plain_text", "text": "T" * 25}}
    refused = await api_error(client.views_open(trigger_id=new_trigger_id(), view=long_title))
    assert refused.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]


async def test_block_kit_limits_on_buttons_and_elements(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)

    def button(label: str, value: str = "v") -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": "a",
            "value": value,
            "text": {"type": "plain_text", "text": label},
        }

    fits = [{"type": "actions", "elements": [button("L" * 75, "v" * 2000)]}]
    await client.chat_postMessage(channel=channel, text="t", blocks=fits)
    breaks = [
        {"type": "actions", "elements": [button("L" * 76, "v" * 2001)]},
        {"type": "actions", "elements": [button("ok")] * 26},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]},
    ]
    refused = await api_error(client.chat_postMessage(channel=channel, text="t", blocks=breaks))
    assert refused.response["error"] == "invalid_blocks"
    assert refused.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        "[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
        "[ERROR] no more than 25 items allowed [json-pointer:/blocks/1/elements]",
        "[ERROR] no more than 10 items allowed [json-pointer:/blocks/2/elements]",
        "[ERROR] must be less than 2001 characters [json-pointer:/blocks/3/fields/0/text]",
    ]
    assert len(fake.messages(channel)) == 1


async def test_reactions_take_only_emoji_slack_knows(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)
    posted = await client.chat_postMessage(channel=channel, text="root")
    for name in ("white_check_mark", "hourglass_flowing_sand", "warning", "+1"):
        await client.reactions_add(channel=channel, timestamp=posted["ts"], name=name)
    unknown = client.reactions_add(channel=channel, timestamp=posted["ts"], name="green_tick")
    assert await error_code(unknown) == "invalid_name"


async def test_guests_are_flagged_as_slack_reports_them(fake: FakeSlack) -> None:
    client = web_client(fake)
    member = fake.add_user("dana")
    multi = fake.add_user("mia", guest="multi")
    single = fake.add_user("gus", guest="single")
    flags = [
        (u["user"]["is_restricted"], u["user"]["is_ultra_restricted"])
        for u in [await client.users_info(user=who) for who in (member, multi, single)]
    ]
    assert flags == [(False, False), (True, False), (True, True)]


# ---------------------------------------------------------------------------------------------
# Fault injection


class Clock:
    """A hand-moved clock for the fake's rate limits: no test sleeps for Slack's minute."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited() -> AsyncIterator[tuple[FakeSlack, Clock]]:
    clock = Clock()
    async with FakeSlack(limits=RateLimits(clock=clock, posts_per_minute_per_workspace=8)) as fake:
        yield fake, clock


async def test_posts_are_limited_per_channel_with_a_short_burst(
    limited: tuple[FakeSlack, Clock],
) -> None:
    fake, clock = limited
    busy, quiet = fake.add_channel("busy"), fake.add_channel("quiet")
    client = web_client(fake)
    for n in range(3):
        await client.chat_postMessage(channel=busy, text=f"burst {n}")
    refused = await api_error(client.chat_postMessage(channel=busy, text="one too many"))
    assert (refused.response.status_code, refused.response["error"]) == (429, "ratelimited")
    assert refused.response.headers["Retry-After"] == "1"
    assert [m.text for m in fake.messages(busy)] == ["burst 0", "burst 1", "burst 2"]
    await client.chat_postMessage(channel=quiet, text="another channel has its own allowance")
    clock.now += 1
    await client.chat_postMessage(channel=busy, text="a second later")
    assert fake.messages(busy)[-1].text == "a second later"


async def test_posts_are_limited_per_workspace(limited: tuple[FakeSlack, Clock]) -> None:
    fake, clock = limited  # a ceiling of 8 posts a minute in this fixture
    channels = [fake.add_channel(f"c{n}") for n in range(9)]
    client = web_client(fake)
    for channel in channels[:8]:
        await client.chat_postMessage(channel=channel, text="hi")
    refused = await api_error(client.chat_postMessage(channel=channels[8], text="hi"))
    assert refused.response.status_code == 429
    assert int(refused.response.headers["Retry-After"]) == 8  # one post per 7.5 s refills
    assert fake.messages(channels[8]) == []
    clock.now += 7.5
    await client.chat_postMessage(channel=channels[8], text="hi")


async def test_tier_3_methods_allow_fifty_a_minute(limited: tuple[FakeSlack, Clock]) -> None:
    fake, clock = limited
    channel = fake.add_channel("escalations")
    client = web_client(fake)
    root = await client.chat_postMessage(channel=channel, text="root")
    for n in range(50):
        await client.chat_update(channel=channel, ts=root["ts"], text=f"v{n}")
    refused = await api_error(client.chat_update(channel=channel, ts=root["ts"], text="v50"))
    assert (refused.response.status_code, refused.response.headers["Retry-After"]) == (429, "2")
    assert fake.messages(channel)[0].text == "v49"  # the refused update changed nothing
    # Each method has its own allowance: a Tier 4 read still goes.
    await client.chat_getPermalink(channel=channel, message_ts=root["ts"])
    clock.now += 1.2
    await client.chat_update(channel=channel, ts=root["ts"], text="v50")


async def test_history_reads_of_a_distributed_app_one_a_minute_fifteen_a_page() -> None:
    clock = Clock()
    limits = RateLimits(clock=clock, limited_history_reads=True, posts_per_minute_per_workspace=99)
    async with FakeSlack(limits=limits) as fake:
        channel = fake.add_channel("escalations")
        client = web_client(fake)
        root = await client.chat_postMessage(channel=channel, text="root")
        for n in range(20):
            clock.now += 1
            await client.chat_postMessage(channel=channel, thread_ts=root["ts"], text=f"r{n}")
        page = await client.conversations_replies(channel=channel, ts=root["ts"], limit=200)
        assert len(page["messages"]) == 15 and page["has_more"] is True
        again = client.conversations_replies(
            channel=channel, ts=root["ts"], cursor=page["response_metadata"]["next_cursor"]
        )
        refused = await api_error(again)
        assert (refused.response.status_code, refused.response.headers["Retry-After"]) == (
            429,
            "60",
        )
        await client.conversations_history(channel=channel)  # each method has its own minute
        clock.now += 60
        rest = await client.conversations_replies(
            channel=channel, ts=root["ts"], cursor=page["response_metadata"]["next_cursor"]
        )
        assert len(rest["messages"]) == 6


async def test_rate_limits_can_be_switched_off_for_tests_of_something_else() -> None:
    async with FakeSlack(limits=RateLimits(enabled=False)) as fake:
        channel = fake.add_channel("escalations")
        for n in range(10):
            await web_client(fake).chat_postMessage(channel=channel, text=f"{n}")
        assert len(fake.messages(channel)) == 10


async def test_rate_limit_answers_429_with_retry_after(fake: FakeSlack, channel: str) -> None:
    fake.rate_limit("chat.postMessage", retry_after=1)
    limited = await api_error(web_client(fake).chat_postMessage(channel=channel, text="x"))
    assert (limited.response.status_code, limited.response["error"]) == (429, "ratelimited")
    assert limited.response.headers["Retry-After"] == "1"

    fake.rate_limit("chat.postMessage", retry_after=1)
    patient = web_client(fake, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    await patient.chat_postMessage(channel=channel, text="after the wait")
    assert time.monotonic() - started >= 1
    assert [call.status for call in fake.calls("chat.postMessage")] == [429, 429, 200]
    assert [m.text for m in fake.messages(channel)] == ["after the wait"]


async def test_fail_until_cleared_and_once_with_5xx(fake: FakeSlack, channel: str) -> None:
    client = web_client(fake)
    fake.fail("chat.postMessage", error="fatal_error")
    for _ in range(2):
        failed = await api_error(client.chat_postMessage(channel=channel, text="x"))
        assert (failed.response.status_code, failed.response["error"]) == (200, "fatal_error")
    fake.clear_faults()
    fake.fail(http_status=503, times=1)
    assert (await api_error(client.auth_test())).response.status_code == 503
    await client.chat_postMessage(channel=channel, text="through")
    assert [m.text for m in fake.messages(channel)] == ["through"]


async def test_outage_refuses_connections_on_the_same_port(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session:
        # A shared session keeps a connection alive across calls: the outage must cut it too.
        client = web_client(fake, session=session, retry_handlers=[])
        await client.auth_test()
        port = fake.port
        await fake.go_down()
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.auth_test()
        await fake.come_up()
        assert (fake.port, fake.is_up) == (port, True)
        await client.auth_test()
    assert [call.status for call in fake.calls("auth.test")] == [200, 200]


async def test_dropped_answer_keeps_the_effect(fake: FakeSlack, channel: str) -> None:
    fake.drop_response("chat.postMessage")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await web_client(fake, retry_handlers=[]).chat_postMessage(
            channel=channel, text="answer lost"
        )
    assert [m.text for m in fake.messages(channel)] == ["answer lost"]
    assert fake.calls("chat.postMessage")[0].status is None


async def test_a_drop_for_some_text_lets_other_posts_through(fake: FakeSlack, channel: str) -> None:
    fake.drop_response("chat.postMessage", text="reminder")
    client = web_client(fake, retry_handlers=[])
    await client.chat_postMessage(channel=channel, text="the root")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.chat_postMessage(channel=channel, text="a reminder, answer lost")
    await client.chat_postMessage(channel=channel, text="another reminder")  # once only
    assert [call.status for call in fake.calls("chat.postMessage")] == [200, None, 200]
    assert len(fake.messages(channel)) == 3


async def test_default_client_retries_a_dropped_post_and_duplicates_it(
    fake: FakeSlack, channel: str
) -> None:
    # slack_sdk's default AsyncConnectionErrorRetryHandler resends on ServerDisconnectedError, even a post.
    fake.drop_response("chat.postMessage")
    await web_client(fake).chat_postMessage(channel=channel, text="posted twice")
    assert [m.text for m in fake.messages(channel)] == ["posted twice", "posted twice"]


async def test_wait_for_times_out_with_a_clear_error(fake: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match=r"within 0\.05s"):
        await fake.wait_for(lambda: fake.calls("auth.test"), timeout=0.05)


# ---------------------------------------------------------------------------------------------
# Bolt over Socket Mode


@pytest.fixture
async def socket_handler(fake: FakeSlack) -> AsyncIterator[AsyncSocketModeHandler]:
    # A short ping interval lets the client notice a dead connection (outage test) in about a second.
    handler = AsyncSocketModeHandler(
        AsyncApp(client=web_client(fake)), fake.app_token, ping_interval=0.5
    )
    await handler.connect_async()
    await fake.wait_for(lambda: fake.open_sockets == 1)
    yield handler
    await handler.close_async()


async def test_bolt_receives_acks_and_reconnects(
    fake: FakeSlack, channel: str, socket_handler: AsyncSocketModeHandler
) -> None:
    app = socket_handler.app
    sam = fake.add_user("sam", display_name="Sam")
    received: asyncio.Queue[tuple[str, str, list[str]]] = asyncio.Queue()

    @app.event("message")
    async def on_message(event: dict[str, Any], request: AsyncBoltRequest, say: AsyncSay) -> None:
        authorized = request.context.authorize_result
        scopes = list(authorized.bot_scopes or []) if authorized else []
        await received.put((event["text"], request.headers["x-slack-retry-num"][0], scopes))
        await say(text=f"echo: {event['text']}", thread_ts=event["ts"])

    event = fake.add_user_message(channel, sam, "hello bot")
    ack = await fake.push_event(event)
    assert await asyncio.wait_for(received.get(), 5) == ("hello bot", "0", fake.scopes)
    await fake.wait_for(lambda: len(fake.messages(channel, thread_ts=event["ts"])) == 2)
    assert fake.messages(channel)[-1].text == "echo: hello bot"

    await fake.redeliver(ack.envelope)
    assert (await asyncio.wait_for(received.get(), 5))[:2] == ("hello bot", "1")

    # The bot's own message is acked but filtered by Bolt, thanks to auth.test's user_id/bot_id.
    own = message_event(channel=channel, user=BOT_USER_ID, bot_id=BOT_ID, text="my own echo")
    await fake.push_event(own)

    await fake.disconnect_socket()
    await fake.wait_for(lambda: fake.socket_connects == 2 and fake.open_sockets == 1)
    await fake.push_event(fake.add_user_message(channel, sam, "after reconnect"))
    assert (await asyncio.wait_for(received.get(), 5))[0] == "after reconnect"

    # Slack's announced refresh: a disconnect notice, then the close; the client may reconnect twice.
    await fake.disconnect_socket(reason="refresh_requested")
    await fake.wait_for(lambda: fake.socket_connects >= 3 and fake.open_sockets == 1)
    await fake.push_event(fake.add_user_message(channel, sam, "after refresh"))
    assert (await asyncio.wait_for(received.get(), 5))[0] == "after refresh"
    assert len(fake.calls("auth.test")) == 1  # Bolt caches it
    assert [a.envelope["envelope_id"] for a in fake.acks()] == [
        e["envelope_id"] for e in fake.deliveries()
    ]


def recorder(into: list[str]) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A Bolt listener that records each message's text (Bolt passes arguments by name)."""

    async def on_message(event: dict[str, Any]) -> None:
        into.append(event["text"])

    return on_message


async def test_events_are_spread_over_several_connections_each_to_one() -> None:
    """Two app replicas, each with its own Socket Mode connection, as Slack spreads events."""
    async with FakeSlack(spread_events=True) as fake:
        received: dict[str, list[str]] = {"a": [], "b": []}
        handlers = []
        for name in received:
            app = AsyncApp(client=web_client(fake))
            app.event("message")(recorder(received[name]))
            handler = AsyncSocketModeHandler(app, fake.app_token)
            await handler.connect_async()
            handlers.append(handler)
        await fake.wait_for(lambda: fake.open_sockets == 2)
        sam = fake.add_user("sam")
        room = fake.add_channel("replicas")
        texts = [f"message {i}" for i in range(6)]
        for text in texts:
            await fake.push_event(fake.add_user_message(room, sam, text))
        await fake.wait_for(lambda: len(received["a"]) + len(received["b"]) == len(texts))
        assert sorted(received["a"] + received["b"]) == texts  # each exactly once
        assert received["a"] and received["b"]  # and both replicas got some

        # One replica gone: every envelope goes to the other.
        await handlers[0].close_async()
        await fake.wait_for(lambda: fake.open_sockets == 1)
        before = {name: len(got) for name, got in received.items()}
        for i in range(3):
            await fake.push_event(fake.add_user_message(room, sam, f"after {i}"))
        await fake.wait_for(lambda: sum(map(len, received.values())) == len(texts) + 3)
        assert len(received["a"]) == before["a"]
        await handlers[1].close_async()


async def test_unhandled_event_is_not_acked(
    fake: FakeSlack, socket_handler: AsyncSocketModeHandler
) -> None:
    with pytest.raises(AckTimeout) as raised:
        await fake.push_event(
            {"type": "reaction_added", "user": "U1", "reaction": "eyes"}, timeout=0.5
        )
    assert fake.deliveries() == [raised.value.envelope] and fake.acks() == []


async def test_button_click_acks_and_responds_through_response_url(
    fake: FakeSlack, channel: str, socket_handler: AsyncSocketModeHandler
) -> None:
    app = socket_handler.app
    sam = fake.add_user("sam")

    @app.action("claim")
    async def claim(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(
            text=f"Claimed by {body['user']['id']} for {body['actions'][0]['value']}",
            replace_original=True,
        )

    posted = await web_client(fake).chat_postMessage(
        channel=channel, text="Escalation", blocks=[CLAIM_BUTTON]
    )
    with pytest.raises(LookupError):
        fake.block_action(channel, posted["ts"], "resolve", user=sam)
    await fake.push_interactive(fake.block_action(channel, posted["ts"], "claim", user=sam))
    await fake.wait_for(lambda: fake.calls("response_url"))
    assert [m.text for m in fake.messages(channel)] == [f"Claimed by {sam} for s-1"]


async def test_socket_mode_client_reconnects_after_an_outage(
    fake: FakeSlack, channel: str, socket_handler: AsyncSocketModeHandler
) -> None:
    app = socket_handler.app
    handled = asyncio.Event()

    @app.event("message")
    async def on_message() -> None:
        handled.set()

    await fake.go_down()
    assert fake.open_sockets == 0
    # The outage's length, not a synchronisation: long enough for reconnect attempts to hit a closed port.
    await asyncio.sleep(1.5)
    await fake.come_up()
    await fake.wait_for(lambda: fake.open_sockets == 1, timeout=10)
    await fake.push_event(fake.add_user_message(channel, "U0SAM", "back online"))
    await asyncio.wait_for(handled.wait(), 5)


# ---------------------------------------------------------------------------------------------
# Bolt over HTTP with signed requests


async def test_bolt_http_mode_accepts_the_signed_builders(fake: FakeSlack, channel: str) -> None:
    secret = "fake-signing-secret"
    app = AsyncApp(client=web_client(fake), signing_secret=secret)
    messages: asyncio.Queue[str] = asyncio.Queue()
    clicks: list[str] = []

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        await messages.put(event["text"])

    @app.action("claim")
    async def on_claim(ack: AsyncAck, action: dict[str, Any]) -> None:
        await ack()
        clicks.append(action["value"])

    event_body = message_event_body(channel=channel, user="U0SAM", text="over http")
    accepted = await app.async_dispatch(
        bolt_request(event_body, signed_headers(secret, event_body))
    )
    assert accepted.status == 200 and await asyncio.wait_for(messages.get(), 5) == "over http"
    for headers in (
        signed_headers("wrong", event_body),
        signed_headers(secret, event_body, int(time.time()) - 600),
    ):
        rejected = await app.async_dispatch(bolt_request(event_body, headers))
        assert rejected.status == 401

    click = block_actions_body(
        action_id="claim", user="U0SAM", channel=channel, message_ts="1.000001", value="s-1"
    )
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=click, headers=signed_headers(secret, click)) as response,
        ):
            assert response.status == 200
    finally:
        await runner.cleanup()
    assert clicks == ["s-1"]


# ---------------------------------------------------------------------------------------------
# Synchronous use


def test_thread_mode_serves_sync_clients() -> None:
    with FakeSlack().run_in_thread() as srv:
        channel = srv.call(srv.fake.add_channel, "escalations")
        client = WebClient(token=srv.fake.bot_token, base_url=srv.api_url)
        posted = client.chat_postMessage(channel=channel, text="from a thread")
        assert [m.ts for m in srv.call(srv.fake.messages, channel)] == [posted["ts"]]

        srv.call(srv.fake.rate_limit, "users.info")
        with pytest.raises(SlackApiError) as raised:
            client.users_info(user=srv.fake.bot_user_id)
        assert raised.value.response.status_code == 429
        srv.run(srv.fake.go_down())
        srv.run(srv.fake.come_up())
        assert client.users_info(user=srv.fake.bot_user_id)["user"]["is_bot"] is True


class RawSocket:
    """A Socket Mode client that records every envelope and acknowledges only when told to."""

    def __init__(self, acks: bool) -> None:
        self.acks = acks
        self.envelopes: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._session = aiohttp.ClientSession()

    async def connect(self, fake: FakeSlack) -> RawSocket:
        opened = await web_client(fake).apps_connections_open(app_token=fake.app_token)
        ws = await self._session.ws_connect(str(opened["url"]))
        self._task = asyncio.create_task(self._read(ws))
        return self

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            message = json.loads(frame.data)
            if message.get("type") != "events_api":
                continue
            self.envelopes.append(message)
            if self.acks:
                await ws.send_json({"envelope_id": message["envelope_id"]})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._session.close()


async def test_an_unacknowledged_envelope_is_sent_again_to_the_other_connection() -> None:
    """Slack's retry of an envelope nobody acknowledged: after the ack timeout, the same event
    again to another connection (a dead replica's socket is not chosen twice)."""
    async with FakeSlack(spread_events=True) as fake:
        silent, acking = RawSocket(acks=False), RawSocket(acks=True)
        await silent.connect(fake)
        await fake.wait_for(lambda: fake.open_sockets == 1)
        await acking.connect(fake)
        await fake.wait_for(lambda: fake.open_sockets == 2)
        sam = fake.add_user("sam")
        room = fake.add_channel("retries")
        try:
            # At once, as events come: the retries do not simply take the next turn.
            events = [fake.add_user_message(room, sam, f"message {i}") for i in range(4)]
            acks = await asyncio.gather(
                *(
                    fake.push_event_until_acked(
                        event, event_id=f"Ev{i}", ack_timeout=0.3, attempts=2
                    )
                    for i, event in enumerate(events)
                )
            )
            assert [a.envelope["payload"]["event_id"] for a in acks] == [f"Ev{i}" for i in range(4)]
            ids = sorted(e["payload"]["event_id"] for e in acking.envelopes)
            assert ids == [f"Ev{i}" for i in range(4)]  # each reached the acking one once
            assert silent.envelopes  # spreading sent some to the silent one first...
            for envelope in silent.envelopes:  # ...which never got the retry
                assert envelope["retry_attempt"] == 0
            retried = [e for e in acking.envelopes if e["retry_attempt"] == 1]
            assert len(retried) == len(silent.envelopes)
            assert all(e["retry_reason"] == "timeout" for e in retried)

            # Nobody acknowledges: every attempt goes out, then AckTimeout.
            await acking.close()
            await fake.wait_for(lambda: fake.open_sockets == 1)
            before = len(silent.envelopes)
            with pytest.raises(AckTimeout):
                await fake.push_event_until_acked(
                    fake.add_user_message(room, sam, "lost"), ack_timeout=0.2, attempts=3
                )
            assert [e["retry_attempt"] for e in silent.envelopes[before:]] == [0, 1, 2]
        finally:
            await silent.close()
            await acking.close()


SEARCH_MODAL = {
    "type": "modal",
    "callback_id": "pick",
    "title": {"type": "plain_text", "text": "Pick"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "b",
            "label": {"type": "plain_text", "text": "Reply"},
            "element": {"type": "external_select", "action_id": "menu"},
        }
    ],
}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


async def test_a_message_shortcut_opens_a_search_whose_options_the_app_answers(
    fake: FakeSlack, channel: str, socket_handler: AsyncSocketModeHandler
) -> None:
    """Slack's contract for message shortcuts and external_select: a shortcut reaches the app
    only when declared (manifest) with the commands scope; the menu asks after
    min_query_length characters (3 by default); the answer is shown only within Block Kit's
    limits; a submission carries an option the menu showed."""
    app = socket_handler.app
    sam = fake.add_user("sam")
    posted = await web_client(fake).chat_postMessage(channel=channel, text="a customer message")
    with pytest.raises(LookupError):  # not declared: not in the message's menu
        fake.message_shortcut(channel, posted["ts"], "canned", user=sam)
    fake.shortcuts["canned"] = "message"
    fake.scopes.remove("commands")
    with pytest.raises(LookupError):  # shortcuts need the commands scope
        fake.message_shortcut(channel, posted["ts"], "canned", user=sam)
    fake.scopes.append("commands")

    @app.shortcut("canned")
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={**SEARCH_MODAL, "private_metadata": body["message"]["ts"]},
        )

    @app.options("menu")
    async def on_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        typed = body["value"]
        if typed == "many":
            await ack(options=[option(f"o{i}", str(i)) for i in range(101)])
        else:
            await ack(options=[option(f"Reply for {typed}", "r-1"), option("x" * 76, "r-2")][:1])

    shortcut = fake.message_shortcut(channel, posted["ts"], "canned", user=sam)
    assert (shortcut["type"], shortcut["message"]["ts"]) == ("message_action", posted["ts"])
    await fake.push_interactive(shortcut)
    view = (await fake.wait_for(fake.views))[0]
    assert view["private_metadata"] == posted["ts"]

    with pytest.raises(ValueError):  # Slack waits for three characters
        fake.block_suggestion(view["id"], "menu", "wa", user=sam)
    with pytest.raises(LookupError):
        fake.block_suggestion(view["id"], "other", "wait", user=sam)
    asked = fake.block_suggestion(view["id"], "menu", "wait", user=sam)
    assert (asked["type"], asked["value"], asked["view"]["id"]) == (
        "block_suggestion",
        "wait",
        view["id"],
    )
    answer = await fake.push_interactive(asked)
    assert fake.show_options(view["id"], "menu", answer.payload) == [
        option("Reply for wait", "r-1")
    ]
    with pytest.raises(LookupError):  # never shown
        fake.view_submission(view["id"], user=sam, values={}, selected={"b": {"menu": "r-2"}})
    submitted = fake.view_submission(
        view["id"], user=sam, values={}, selected={"b": {"menu": "r-1"}}
    )
    assert submitted["view"]["state"]["values"] == {
        "b": {
            "menu": {"type": "external_select", "selected_option": option("Reply for wait", "r-1")}
        }
    }

    # Over Block Kit's limits (101 options, a 76-character text): Slack shows none.
    too_many = await fake.push_interactive(
        fake.block_suggestion(view["id"], "menu", "many", user=sam)
    )
    assert fake.show_options(view["id"], "menu", too_many.payload) == []
    assert fake.show_options(view["id"], "menu", {"options": [option("x" * 76, "r-2")]}) == []
    assert fake.show_options(view["id"], "menu", None) == []
    assert len(fake.refused_options) == 3
    with pytest.raises(LookupError):
        fake.view_submission(view["id"], user=sam, values={}, selected={"b": {"menu": "r-1"}})
