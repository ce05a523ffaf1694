"""Run the real bridge (`python -m slack_bridge`) as a child process, killable with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.crash_points import ENABLE_ENV, EXIT_STATUS, POINT_ENV
from tests.support import forks
from tests.support.agent_process import REPO_ROOT, free_port

START_TIMEOUT_S = 60


@dataclass
class BridgeProcess:
    workdir: Path
    env_overrides: dict[str, str]
    ready: Callable[[], bool]
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: forks.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "bridge.log"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "BRIDGE_", "OPENAI_"))
        }
        env.update(
            SLACK_BRIDGE_PORT=str(self.port),
            BRIDGE_METRICS_PORT=str(self.metrics_port),
            BRIDGE_STATE_PATH=str(self.workdir / "bridge-state.sqlite3"),
            DOTENV_PATH=str(self.workdir / "no.env"),
            # Drafts add a post under each customer message: on only where a test asks.
            BRIDGE_DRAFTS="off",
        )
        env.update(self.env_overrides)
        return env

    def start(self) -> BridgeProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = forks.start("slack_bridge", self.env(), REPO_ROOT, self.log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready():
            if self.process.poll() is not None:
                if self.env_overrides.get(POINT_ENV) and self.process.returncode == EXIT_STATUS:
                    # Armed, and its first discovery pass reached the point before the health
                    # check answered (work left from earlier cases): wait_crashed checks where.
                    return self
                raise RuntimeError(f"bridge exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"bridge not ready:\n{self.log()}")
            time.sleep(0.1)
        return self

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def log(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash or an OOM kill."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, crash_at: str | None = None) -> BridgeProcess:
        """Stop and start again; with `crash_at`, armed to exit at that crash point."""
        self.stop()
        for name in (ENABLE_ENV, POINT_ENV):
            self.env_overrides.pop(name, None)
        if crash_at:
            self.env_overrides.update({ENABLE_ENV: "1", POINT_ENV: crash_at})
        return self.start()

    def wait_crashed(self, point: str, timeout: float = 60) -> None:
        """Wait until the armed bridge died at `point`, and not for any other reason."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"the bridge did not reach {point}:\n{self.log()}") from error
        assert self.process.returncode == EXIT_STATUS, self.log()
        assert f"test crash point {point} reached" in self.log()
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
