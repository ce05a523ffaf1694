"""A real `python -m dashboard` for a test: started, waited for, stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.agent_process import REPO_ROOT, free_port

START_TIMEOUT_S = 60


@dataclass(frozen=True)
class Dashboard:
    url: str
    port: int
    log_path: Path


@contextmanager
def running_dashboard(
    agent_url: str, workdir: Path, extra_env: dict[str, str]
) -> Iterator[Dashboard]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLANT_", "DASHBOARD_"))}
    env.update(
        PARLANT_URL=agent_url,
        DASHBOARD_PORT=str(port),
        DASHBOARD_URL=url,
        DOTENV_PATH=str(workdir / "no.env"),
    )
    env.update(extra_env)
    log_path = workdir / "dashboard.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"dashboard not healthy:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield Dashboard(url, port, log_path)
    finally:
        process.terminate()
        process.wait(timeout=20)
