"""`python -m slack_bridge check`: is the Slack app set up right, and is Parlant reachable?

Each check prints ✓ or ✗ with what to fix, so a broken scope or a missing channel invite is
found before an escalation goes nowhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slack_bridge.settings import BridgeSettings
from slack_kit.posted import find_in_channel, find_in_thread
from slack_kit.slack_api import (
    SlackCaller,
    SlackRejected,
    SlackUnavailable,
    client_session,
    web_client,
)

REQUIRED_SCOPES = frozenset(
    {
        "chat:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "users:read",
        "reactions:write",
        "metadata.message:read",
        # The canned-reply message shortcut (manifest.yml features.shortcuts).
        "commands",
    }
)
CHECK_EVENT_TYPE = "escalation_setup_check"
CHECK_TEXT = (
    "Set-up check by `python -m slack_bridge check`: can the bridge read its message metadata "
    "back? (This message deletes itself.)"
)
METADATA_FIX = (
    "add the metadata.message:read scope (manifest.yml) and reinstall the app; without the "
    "round trip, a post whose answer from Slack was lost can be posted twice"
)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    what: str
    fix: str = ""


async def check_parlant(settings: BridgeSettings) -> CheckResult:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(f"{settings.parlant_url}/healthz")
        if response.status_code == 200:
            return CheckResult(True, f"Parlant answers at {settings.parlant_url}")
        return CheckResult(
            False,
            f"Parlant at {settings.parlant_url} answered {response.status_code}",
            "check PARLANT_URL",
        )
    except httpx.HTTPError as error:
        return CheckResult(
            False,
            f"Parlant is not reachable at {settings.parlant_url} ({error!r})",
            "start the agent (make run) or fix PARLANT_URL",
        )


async def check_slack(settings: BridgeSettings) -> list[CheckResult]:
    slack = settings.slack
    if slack is None:
        return [
            CheckResult(
                False,
                "Slack is not configured",
                "set SLACK_BOT_TOKEN, SLACK_ESCALATION_CHANNEL and SLACK_APP_TOKEN (or SLACK_SIGNING_SECRET)",
            )
        ]
    results: list[CheckResult] = []
    async with client_session(max_connections=4) as http:
        client = web_client(slack.bot_token, slack.api_url, http)
        try:
            auth = await client.auth_test()
        except SlackApiError as error:
            return [
                CheckResult(
                    False,
                    f"the bot token was refused ({error.response.get('error')})",
                    "copy the Bot User OAuth Token (xoxb-...) into SLACK_BOT_TOKEN",
                )
            ]
        except Exception as error:
            return [
                CheckResult(
                    False,
                    f"Slack is not reachable at {slack.api_url} ({error!r})",
                    "check the network or SLACK_API_URL",
                )
            ]
        results.append(
            CheckResult(
                True, f"bot token works (bot user {auth.get('user_id')} in team {auth.get('team')})"
            )
        )
        granted = {
            s.strip() for s in auth.headers.get("x-oauth-scopes", "").split(",") if s.strip()
        }
        missing = sorted(REQUIRED_SCOPES - granted)
        results.append(
            CheckResult(
                not missing,
                "bot scopes " + ("complete" if not missing else f"missing: {', '.join(missing)}"),
                ""
                if not missing
                else "add them under OAuth & Permissions (or reinstall from manifest.yml) and reinstall the app",
            )
        )
        for channel_id in slack.routes.channels:
            default = channel_id == slack.escalation_channel
            setting = "SLACK_ESCALATION_CHANNEL" if default else "SLACK_ROUTES"
            channel_result = await check_channel(client, "escalation", channel_id, setting)
            results.append(channel_result)
            if default and channel_result.ok:
                results.extend(
                    await check_metadata_round_trip(client, channel_id, str(auth["user_id"]))
                )
        if slack.supervisor_channel:
            results.append(
                await check_channel(
                    client, "supervisor", slack.supervisor_channel, "SLACK_SUPERVISOR_CHANNEL"
                )
            )
        if slack.overflow_channel:
            results.append(
                await check_channel(
                    client, "overflow", slack.overflow_channel, "SLACK_OVERFLOW_CHANNEL"
                )
            )
    return results


async def check_channel(
    client: AsyncWebClient, role: str, channel_id: str, setting: str
) -> CheckResult:
    """The bot must be a member of every channel it posts into."""
    try:
        info = await client.conversations_info(channel=channel_id)
    except SlackApiError as error:
        return CheckResult(
            False,
            f"{role} channel {channel_id} not readable ({error.response.get('error')})",
            f"check {setting} (channel ids such as C0123ABCD) and the channels:read/groups:read scopes",
        )
    channel: dict[str, Any] = info.get("channel") or {}
    name = f"#{channel.get('name')} ({channel_id})"
    if channel.get("is_archived"):
        return CheckResult(
            False, f"{role} channel {name} is archived", f"unarchive it or change {setting}"
        )
    member = bool(channel.get("is_member"))
    return CheckResult(
        member,
        f"{role} channel {name} " + ("has the bot" if member else "does not have the bot"),
        "" if member else f"invite the bot: /invite @<bot name> in #{channel.get('name')}",
    )


async def check_metadata_round_trip(
    client: AsyncWebClient, channel_id: str, bot_user_id: str
) -> list[CheckResult]:
    """Post a message with metadata, read it back with every read the bridge makes, delete it.

    Exactly-once posting rests on this: after a lost answer the bridge looks its post up by
    the metadata it carries (conversations.replies and conversations.history with
    include_all_metadata). The reads go through the bridge's own SlackCaller, so they are sent
    exactly as the bridge sends them.
    """
    nonce = secrets.token_hex(8)
    try:
        posted = await client.chat_postMessage(
            channel=channel_id,
            text=CHECK_TEXT,
            metadata={"event_type": CHECK_EVENT_TYPE, "event_payload": {"nonce": nonce}},
        )
    except SlackApiError as error:
        return [
            CheckResult(
                False,
                f"could not post the metadata check in {channel_id} ({error.response.get('error')})",
                "give the bot chat:write and invite it to the channel",
            )
        ]
    ts = str(posted["ts"])

    def is_check(message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        return (
            metadata.get("event_type") == CHECK_EVENT_TYPE
            and (metadata.get("event_payload") or {}).get("nonce") == nonce
        )

    caller = SlackCaller(client, posts_per_second=0)
    problem = ""
    try:
        if await find_in_thread(caller, channel_id, ts, is_check) != ts:
            problem = "the message came back without its metadata"
    except (SlackRejected, SlackUnavailable) as error:
        problem = f"conversations.replies failed ({error})"
    reads = await check_bridge_reads(caller, channel_id, ts, bot_user_id, is_check)
    try:
        await client.chat_delete(channel=channel_id, ts=ts)
        left_behind = ""
    except SlackApiError as error:
        left_behind = (
            f"; the check message {ts} could not be deleted ({error.response.get('error')})"
        )
    if problem:
        return [
            CheckResult(
                False,
                f"message metadata does not read back in {channel_id}: {problem}{left_behind}",
                METADATA_FIX,
            ),
            reads,
        ]
    return [
        CheckResult(
            not left_behind,
            f"message metadata reads back in {channel_id} (posted, read, deleted){left_behind}",
            "delete the check message by hand" if left_behind else "",
        ),
        reads,
    ]


async def check_bridge_reads(
    caller: SlackCaller,
    channel_id: str,
    ts: str,
    bot_user_id: str,
    is_check: Callable[[dict[str, Any]], bool],
) -> CheckResult:
    """The other reads the bridge makes, each as the bridge makes it: the channel look-up after
    a root's lost answer, a message's permalink, and an operator's name."""
    failed: list[str] = []
    try:
        if await find_in_channel(caller, channel_id, is_check) != ts:
            failed.append("conversations.history (the check message was not found)")
    except (SlackRejected, SlackUnavailable) as error:
        failed.append(f"conversations.history ({error})")
    try:
        if not (await caller.call("chat.getPermalink", channel=channel_id, message_ts=ts)).get(
            "permalink"
        ):
            failed.append("chat.getPermalink (no permalink in the answer)")
    except (SlackRejected, SlackUnavailable) as error:
        failed.append(f"chat.getPermalink ({error})")
    try:
        if not (await caller.call("users.info", user=bot_user_id)).get("user"):
            failed.append("users.info (no user in the answer)")
    except (SlackRejected, SlackUnavailable) as error:
        failed.append(f"users.info ({error})")
    if failed:
        return CheckResult(
            False,
            "the bridge's reads failed: " + "; ".join(failed),
            "check the scopes channels:history, groups:history and users:read, then reinstall",
        )
    return CheckResult(
        True,
        "the bridge's reads work (conversations.replies, conversations.history, "
        "chat.getPermalink, users.info)",
    )


async def run_checks(settings: BridgeSettings) -> int:
    results = [*(await check_slack(settings)), await check_parlant(settings)]
    for result in results:
        print(
            ("✓ " if result.ok else "✗ ")
            + result.what
            + (f"\n    fix: {result.fix}" if result.fix else "")
        )
    return 0 if all(r.ok for r in results) else 1
