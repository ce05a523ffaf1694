"""`python -m slack_bridge check` against the fake Slack and the real agent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes import FakeSlack, FakeSlackThread
from tests.support.agent_process import REPO_ROOT, AgentProcess, free_port


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    handle = FakeSlack().run_in_thread()
    yield handle
    handle.stop()


def run_check(
    slack: FakeSlackThread,
    channel: str,
    parlant_url: str,
    bot_token: str | None = None,
    routes: str = "",
    supervisor_channel: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DOTENV_PATH": "/nonexistent/.env",
        "SLACK_BOT_TOKEN": bot_token or slack.fake.bot_token,
        "SLACK_APP_TOKEN": slack.fake.app_token,
        "SLACK_ESCALATION_CHANNEL": channel,
        "SLACK_API_URL": slack.api_url,
        "PARLANT_URL": parlant_url,
        "SLACK_ROUTES": routes,
    }
    if supervisor_channel:
        env["SLACK_SUPERVISOR_CHANNEL"] = supervisor_channel
    return subprocess.run(
        [sys.executable, "-m", "slack_bridge", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_correct_setup_passes_every_check(slack: FakeSlackThread, agent: AgentProcess) -> None:
    channel = slack.call(slack.fake.add_channel, "escalations")
    result = run_check(slack, channel, agent.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout
    assert result.stdout.count("✓") == 6
    assert "the bridge's reads work" in result.stdout
    assert f"message metadata reads back in {channel} (posted, read, deleted)" in result.stdout
    # The round trip went through Slack for real and left nothing behind in the channel.
    replies = list(slack.call(slack.fake.calls, "conversations.replies"))
    assert replies[-1].params.get("include_all_metadata") in (True, "true", "1")
    assert slack.call(slack.fake.messages, channel) == []
    assert [c.response["ok"] for c in slack.call(slack.fake.calls, "chat.delete")][-1] is True


def test_a_workspace_where_metadata_does_not_read_back_is_caught(
    slack: FakeSlackThread, agent: AgentProcess
) -> None:
    channel = slack.call(slack.fake.add_channel, "escalations-no-metadata")
    slack.fake.metadata_readable = False
    try:
        result = run_check(slack, channel, agent.url)
    finally:
        slack.fake.metadata_readable = True
    assert result.returncode == 1
    assert (
        f"✗ message metadata does not read back in {channel}: "
        "the message came back without its metadata"
    ) in result.stdout
    assert "metadata.message:read" in result.stdout
    assert slack.call(slack.fake.messages, channel) == []  # deleted all the same


def test_the_metadata_scope_is_required(slack: FakeSlackThread, agent: AgentProcess) -> None:
    channel = slack.call(slack.fake.add_channel, "escalations-5")
    scopes = list(slack.fake.scopes)
    slack.fake.scopes = [s for s in scopes if s != "metadata.message:read"]
    try:
        result = run_check(slack, channel, agent.url)
    finally:
        slack.fake.scopes = scopes
    assert result.returncode == 1
    assert "missing: metadata.message:read" in result.stdout


def test_each_problem_is_named_with_its_fix(slack: FakeSlackThread) -> None:
    channel = slack.call(slack.fake.add_channel, "no-bot-here", bot_is_member=False)
    scopes = list(slack.fake.scopes)
    slack.fake.scopes = [s for s in scopes if s != "reactions:write"]
    try:
        result = run_check(slack, channel, f"http://127.0.0.1:{free_port()}")
    finally:
        slack.fake.scopes = scopes
    assert result.returncode == 1
    assert "missing: reactions:write" in result.stdout
    assert "invite the bot" in result.stdout
    assert "Parlant is not reachable" in result.stdout


def test_a_bad_token_is_reported(slack: FakeSlackThread) -> None:
    channel = slack.call(slack.fake.add_channel, "escalations-2")
    result = run_check(slack, channel, f"http://127.0.0.1:{free_port()}", bot_token="xoxb-wrong")
    assert result.returncode == 1
    assert "bot token was refused" in result.stdout


def test_every_routed_channel_is_checked(slack: FakeSlackThread, agent: AgentProcess) -> None:
    default = slack.call(slack.fake.add_channel, "escalations-3")
    claims = slack.call(slack.fake.add_channel, "claims")
    vip = slack.call(slack.fake.add_channel, "vip-no-bot", bot_is_member=False)
    routes = f"reason:claim={claims}; label:vip={vip}; journey:File an Insurance Claim={claims}"
    result = run_check(slack, default, agent.url, routes=routes)
    assert result.returncode == 1
    assert f"#claims ({claims}) has the bot" in result.stdout
    assert f"#escalations-3 ({default}) has the bot" in result.stdout
    assert f"#vip-no-bot ({vip}) does not have the bot" in result.stdout
    assert result.stdout.count("escalation channel") == 3  # the claims channel once


def test_the_supervisor_channel_needs_the_bot_too(
    slack: FakeSlackThread, agent: AgentProcess
) -> None:
    channel = slack.call(slack.fake.add_channel, "escalations-4")
    supervisors = slack.call(slack.fake.add_channel, "supervisors", bot_is_member=False)
    result = run_check(slack, channel, agent.url, supervisor_channel=supervisors)
    assert result.returncode == 1
    assert f"supervisor channel #supervisors ({supervisors}) does not have the bot" in result.stdout
    assert "invite the bot: /invite @<bot name> in #supervisors" in result.stdout
