"""Start-up mistakes stop every entry point in one line naming the setting, before anything runs.

Real entry points (`python -m launcher`, `agent`, `dashboard`, `slack_bridge`): a busy port, a
malformed setting of any process, an unwritable PARLANT_HOME, and `--help`. Each runs as
`python -m` does, forked from the suite's pre-loaded process (tests/support/forks.py) so that
it does not spend its time importing; one bad setting per entry point also runs in a fresh
interpreter, where a third-party import's warning would break the one line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import forks
from tests.support.agent_process import REPO_ROOT, free_port

ENTRY_POINTS = ("launcher", "agent", "dashboard", "slack_bridge")
HTTP_MODE_SLACK = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_ESCALATION_CHANNEL": "C0TEST",
    "SLACK_SIGNING_SECRET": "test-secret",
}


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_", "BRIDGE_", "LOG_"))
    }
    env.update(
        PARLANT_NLP="offline",
        PARLANT_PORT=str(free_port()),
        PARLANT_TOOL_PORT=str(free_port()),
        DASHBOARD_PORT=str(free_port()),
        BRIDGE_METRICS_PORT=str(free_port()),
        SLACK_BRIDGE_PORT=str(free_port()),
        PARLANT_HOME=str(tmp_path / "home"),
        BRIDGE_STATE_PATH=str(tmp_path / "bridge" / "state.sqlite3"),
        DOTENV_PATH=str(tmp_path / "no.env"),
    )
    env.update(extra)
    return env


def run(module: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return forks.run(module, *args, env=env, cwd=REPO_ROOT)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_a_bad_setting_is_one_line_from_a_fresh_interpreter(module: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=REPO_ROOT,
        env=base_env(tmp_path, **HTTP_MODE_SLACK, LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOG_FORMAT" in lines[0], result.stderr


@pytest.fixture
def occupied() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_prints_usage_and_starts_nothing(module: str, tmp_path: Path) -> None:
    result = run(module, base_env(tmp_path, **HTTP_MODE_SLACK), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {module}")
    assert not (tmp_path / "home").exists()  # nothing started, nothing written
    assert not (tmp_path / "bridge").exists()


@pytest.mark.parametrize(
    ("module", "setting", "slack"),
    [
        ("launcher", "PARLANT_PORT", False),
        ("launcher", "PARLANT_TOOL_PORT", False),
        ("launcher", "DASHBOARD_PORT", False),
        ("launcher", "SLACK_BRIDGE_PORT", True),
        ("launcher", "BRIDGE_METRICS_PORT", True),
        ("agent", "PARLANT_PORT", False),
        ("agent", "PARLANT_TOOL_PORT", False),
        ("dashboard", "DASHBOARD_PORT", False),
        ("slack_bridge", "SLACK_BRIDGE_PORT", True),
        ("slack_bridge", "BRIDGE_METRICS_PORT", True),
    ],
)
def test_a_busy_port_is_one_line_naming_its_setting(
    module: str, setting: str, slack: bool, occupied: int, tmp_path: Path
) -> None:
    env = base_env(tmp_path, **{setting: str(occupied)}, **(HTTP_MODE_SLACK if slack else {}))
    result = run(module, env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{setting}={occupied} for " in lines[0] and "already in use" in lines[0]
    assert f"set {setting} to a free port" in lines[0]
    assert "started" not in result.stdout  # honcho started nothing
    assert not (tmp_path / "home" / "operator_token").exists()


def test_two_processes_on_one_port_are_caught(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env["DASHBOARD_PORT"] = env["PARLANT_PORT"]
    result = run("launcher", env)
    assert result.returncode == 2
    assert f"DASHBOARD_PORT={env['PARLANT_PORT']} is also PARLANT_PORT" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value"),
    [("DASHBOARD_PORT", "abc"), ("SLA_CLAIM_TARGET_MINUTES", "soon"), ("LOG_FORMAT", "xml")],
)
def test_any_process_s_bad_setting_stops_the_launcher_before_the_agent(
    setting: str, value: str, tmp_path: Path
) -> None:
    result = run("launcher", base_env(tmp_path, **{setting: value}))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], result.stderr
    assert "started" not in result.stdout
    assert not (tmp_path / "home").exists()  # the agent never ran


@pytest.mark.parametrize("module", ["launcher", "agent"])
def test_an_unwritable_home_is_one_line_naming_parlant_home(module: str, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    result = run(module, base_env(tmp_path, PARLANT_HOME=str(not_a_dir / "home")))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PARLANT_HOME=" in lines[0] and "not a writable directory" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_read_only_home_is_one_line_naming_parlant_home(tmp_path: Path) -> None:
    home = tmp_path / "read-only"
    home.mkdir()
    if os.geteuid() == 0:
        # Root writes through permission bits: only a read-only file system stops it.
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(home)], capture_output=True
        )
        if mounted.returncode != 0:
            pytest.skip("running as root without permission to mount a read-only file system")
    else:
        home.chmod(0o500)
    try:
        result = run("agent", base_env(tmp_path, PARLANT_HOME=str(home)))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(home)], check=False)
        else:
            home.chmod(0o700)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"PARLANT_HOME={home} is not a writable directory" in result.stderr


def test_the_dashboard_logs_json_lines_too(tmp_path: Path) -> None:
    env = base_env(tmp_path, LOG_FORMAT="json")
    log = tmp_path / "dashboard.log"
    process = forks.start("dashboard", env, REPO_ROOT, log)
    try:
        url = f"http://127.0.0.1:{env['DASHBOARD_PORT']}/_stcore/health"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all(r["process"] == "dashboard" for r in records)
    assert any("URL: http://127.0.0.1" in r["message"] for r in records)


@pytest.mark.parametrize(
    ("module", "setting", "protection", "override"),
    [
        ("agent", "PARLANT_HOST", "PARLANT_OPERATOR_TOKEN", "PARLANT_OPEN_WITHOUT_TOKEN"),
        ("dashboard", "DASHBOARD_HOST", "DASHBOARD_PASSWORD", "DASHBOARD_OPEN_WITHOUT_PASSWORD"),
        ("launcher", "DASHBOARD_HOST", "DASHBOARD_PASSWORD", "DASHBOARD_OPEN_WITHOUT_PASSWORD"),
    ],
)
def test_a_public_bind_without_its_protection_is_one_line(
    module: str, setting: str, protection: str, override: str, tmp_path: Path
) -> None:
    result = run(module, base_env(tmp_path, **{setting: "0.0.0.0"}))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(name in lines[0] for name in (setting, protection, override)), lines[0]
    assert "started" not in result.stdout  # the launcher started nothing
    assert not (tmp_path / "home" / "operator_token").exists()


def test_a_public_bind_starts_with_its_protection_or_the_explicit_override() -> None:
    from agent.settings import AgentSettings
    from config import EnvReader, SettingsError
    from dashboard.settings import DashboardSettings

    def agent(**env: str) -> AgentSettings:
        return AgentSettings.from_env(EnvReader(environ=env, dotenv={}))

    def dashboard(**env: str) -> DashboardSettings:
        return DashboardSettings.from_env(EnvReader(environ=env, dotenv={}))

    token = "operator-token-0123456789"
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        agent(PARLANT_HOST=host).check_exposure()
        dashboard(DASHBOARD_HOST=host).check_exposure()
    for host in ("0.0.0.0", "::", "10.0.0.11", "agent.internal"):
        with pytest.raises(SettingsError, match="PARLANT_OPERATOR_TOKEN"):
            agent(PARLANT_HOST=host).check_exposure()
        with pytest.raises(SettingsError, match="DASHBOARD_PASSWORD"):
            dashboard(DASHBOARD_HOST=host).check_exposure()
        agent(PARLANT_HOST=host, PARLANT_OPERATOR_TOKEN=token).check_exposure()
        agent(PARLANT_HOST=host, PARLANT_OPEN_WITHOUT_TOKEN="on").check_exposure()
        dashboard(DASHBOARD_HOST=host, DASHBOARD_PASSWORD="a long passphrase").check_exposure()
        dashboard(DASHBOARD_HOST=host, DASHBOARD_OPEN_WITHOUT_PASSWORD="on").check_exposure()
