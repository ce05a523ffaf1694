"""`python -m slack_bridge check` against the fake Slack and the real agent."""

from __future__ import annotations

import subprocess
import sys
from typing import Iterator

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
    assert result.stdout.count("✓") == 4


def test_each_problem_is_named_with_its_fix(slack: FakeSlackThread) -> None:
    channel = slack.call(slack.fake.add_channel, "no-bot-here", bot_is_member=False)
    slack.fake.scopes = [s for s in slack.fake.scopes if s != "reactions:write"]
    result = run_check(slack, channel, f"http://127.0.0.1:{free_port()}")
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
