"""Run the real agent (`python -m agent`) as a child process on free ports, for tests and benches."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import forks

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


# Ports are chosen below Linux's ephemeral range (32768-60999), so no outgoing connection takes
# one between the test choosing it and the process binding it, and each xdist worker chooses
# from its own slice, so two workers never choose the same one (both happened with three
# workers and ports from bind(0)). The start inside the slice is random, for a second suite
# running alongside.
FIRST_PORT = 20000
PORTS_PER_WORKER = 1500
_port_offsets = itertools.count(random.randrange(PORTS_PER_WORKER))


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw0", "gw1", ...
    return int(worker[2:]) if worker[2:].isdigit() else 0


def free_port() -> int:
    first = FIRST_PORT + _worker_index() * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_port_offsets) % PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_WORKER - 1}")


# Parlant's cache of its start-up evaluations (guidelines' propositions), in its home, keyed
# by each guideline's text and tools (parlant/sdk.py `_CachedEvaluator`).
EVALUATION_CACHE = "evaluation_cache.json"


def copy_evaluations(started: Path, home: Path) -> None:
    """Gives `home` the start-up evaluations an agent already made in `started`: an agent on a
    real model's API (the fake OpenAI) then starts without asking it again (48 requests and
    56 s on a busy machine, against 17 s without them)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(started / EVALUATION_CACHE, home / EVALUATION_CACHE)


@dataclass
class AgentProcess:
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    tool_port: int = field(default_factory=free_port)
    process: forks.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home.parent / f"{self.home.name}-agent.log"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_"))
        }
        env.update(
            PARLANT_NLP="offline",
            PARLANT_HOST="127.0.0.1",
            PARLANT_PORT=str(self.port),
            PARLANT_TOOL_PORT=str(self.tool_port),
            PARLANT_HOME=str(self.home),
            DOTENV_PATH=str(self.home.parent / "no.env"),
            # Never the repository's agent/learned.json: a test's proposals stay in its temp dir.
            AGENT_LEARNED_FILE=str(self.home.parent / f"{self.home.name}-learned.json"),
        )
        env.update(self.extra_env)
        return env

    def start(self) -> AgentProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.process = forks.start("agent", self.env(), REPO_ROOT, self.log_path)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"agent exited with {self.process.returncode}:\n{self.log_path.read_text()[-4000:]}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(
            f"agent not healthy in {START_TIMEOUT_S}s:\n{self.log_path.read_text()[-4000:]}"
        )

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
