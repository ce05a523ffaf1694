"""A real `python -m dashboard` for a test: started (forked from the suite's fork server, as the
agents are: tests/support/forks.py), waited for, stopped."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import forks
from tests.support.agent_process import REPO_ROOT, free_port

START_TIMEOUT_S = 60


@dataclass(frozen=True)
class Dashboard:
    url: str
    port: int
    log_path: Path
    pid: int


@contextmanager
def running_dashboard(
    agent_url: str, workdir: Path, extra_env: dict[str, str], health: str = "/_stcore/health"
) -> Iterator[Dashboard]:
    """`extra_env` over the defaults (DASHBOARD_URL among them); up once `health` (a path:
    Streamlit's own, or the dashboard's /healthz) answers 200."""
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
    process = forks.start("dashboard", env, REPO_ROOT, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"dashboard not healthy:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}{health}", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield Dashboard(url, port, log_path, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
