"""`make run` (python -m launcher) with Slack configured but unreachable, then back.

The launcher printed "READY: every process answers." and "Slack bridge: on (Socket Mode)" while
Slack could not be reached, and the bridge's Socket Mode client then logged a 40-line traceback
every 10 s. Here the real launcher starts the agent, the dashboard and the bridge in Socket Mode
against the fake Slack while it is down: the block must say NOT READY and what to check, the
bridge must say so in a line without a traceback; once the fake Slack is up, READY follows with
the bridge on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes import FakeSlack
from tests.support.agent_process import REPO_ROOT, free_port

TIMEOUT_S = 150
RULE = "=" * 72


def blocks(text: str) -> list[str]:
    """The launcher's blocks, each the lines between two rules without honcho's prefixes."""
    lines = [line.split("| ", 1)[-1] for line in text.splitlines()]
    found: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if line == RULE:
            if current is None:
                current = []
            else:
                found.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return found


def wait_for_block(
    process: subprocess.Popen[bytes], output: Path, heading: str, after: int = 0
) -> tuple[str, int]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        text = output.read_text()
        found = [b for b in blocks(text)[after:] if b.startswith(heading)]
        if found:
            return found[0], blocks(text).index(found[0]) + 1
        assert process.poll() is None, f"launcher exited:\n{text[-4000:]}"
        assert time.monotonic() < deadline, f"no {heading!r} block:\n{text[-6000:]}"
        time.sleep(0.3)


def slack_line(block: str) -> str:
    match = re.search(r"^Slack bridge: +(.*)$", block, re.MULTILINE)
    assert match, block
    return match.group(1)


def test_ready_follows_slack_and_an_unreachable_slack_is_one_clear_line(tmp_path: Path) -> None:
    slack = FakeSlack().run_in_thread()
    channel = slack.call(slack.fake.add_channel, "escalations")
    slack.run(slack.fake.go_down())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_", "BRIDGE_", "LOG_"))
    }
    env.update(
        NO_COLOR="1",
        PARLANT_NLP="offline",
        PARLANT_PORT=str(free_port()),
        PARLANT_TOOL_PORT=str(free_port()),
        DASHBOARD_PORT=str(free_port()),
        BRIDGE_METRICS_PORT=str(free_port()),
        PARLANT_HOME=str(tmp_path / "home"),
        BRIDGE_STATE_PATH=str(tmp_path / "bridge" / "state.sqlite3"),
        DOTENV_PATH=str(tmp_path / "no.env"),
        SLACK_BOT_TOKEN=slack.fake.bot_token,
        SLACK_APP_TOKEN=slack.fake.app_token,
        SLACK_ESCALATION_CHANNEL=channel,
        SLACK_API_URL=slack.api_url,
        SLACK_OPERATOR_IDS="U0DANA",
    )
    output = tmp_path / "make-run.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "launcher"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        not_ready, seen = wait_for_block(process, output, "NOT READY:")
        assert re.search(r"\bbridge \(slack: auth\.test failed", not_ready), not_ready
        assert slack_line(not_ready).startswith("NOT CONNECTED (Socket Mode)"), not_ready
        assert "python -m slack_bridge check" in slack_line(not_ready)
        text = output.read_text()
        assert "Slack not reachable: Socket Mode cannot connect" in text
        assert "Traceback" not in text and "Failed to connect" not in text, text[-6000:]
        assert "will be unused" not in text  # Bolt's warning about the token we gave it

        slack.run(slack.fake.come_up())
        ready, _ = wait_for_block(process, output, "READY: every process is ready.", seen)
        assert slack_line(ready) == "on (Socket Mode)", ready
        assert "Traceback" not in output.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        slack.stop()
