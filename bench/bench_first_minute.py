"""A newcomer's first minute: a fresh clone to `make run`'s READY block, timed.

    .venv/bin/python bench/bench_first_minute.py [--runs 3] [--cold-cache]

Each run clones this repository's committed HEAD into a temporary directory and runs `make run`
there, as a newcomer would: the Makefile makes a virtualenv, installs uv from PyPI into it,
installs the locked dependencies (requirements.lock) with uv and the project, fills the
tokenizer cache, then starts the agent, the dashboard (no Slack) and waits for every process
to be ready. Then a customer asks for a person (a session of the sample customer through
Parlant's API with the operator token the launcher generated; the offline NLP service hands
off). Printed per run: clone to installed (the venv's stamp file appears), clone to READY and
clone to the first handoff (the session in manual mode with a waiting handoff record). Ctrl-C (SIGINT to make's process group) ends each run; nothing outside the temporary
directory is used but uv's download cache (~/.cache/uv): `--cold-cache` gives each run an
empty one, so every package is downloaded from PyPI again.

Ports come from the test harness' per-worker slice, so a run beside `make test` does not
collide with it. The machine's load average is printed: this 2-core machine is shared.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
from parlant.client import ParlantClient  # noqa: E402

from handoff.record import read_record  # noqa: E402
from tests.support.agent_process import free_port  # noqa: E402
from tests.support.chat import new_session, say  # noqa: E402

READY = "READY: every process is ready."
TIMEOUT_S = 600


def first_handoff(parlant_url: str, token_file: Path) -> None:
    """A customer asks for a person; returns once the session is handed off."""
    http = httpx.Client(headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
    client = ParlantClient(base_url=parlant_url, httpx_client=http, timeout=60)
    session = new_session(client)
    say(client, session, "I want to talk to a human")
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        found = client.sessions.retrieve(session)
        record = read_record(found.metadata)
        if found.mode == "manual" and record and record.get("status") == "waiting":
            return
        if time.monotonic() > deadline:
            raise TimeoutError("no handoff")
        time.sleep(0.1)


def one_run(cold_cache: bool) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="first-minute-") as tmp:
        root = Path(tmp)
        clone = root / "clone"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_", "BRIDGE_"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        parlant_port = free_port()
        env.update(
            NO_COLOR="1",
            PARLANT_PORT=str(parlant_port),
            PARLANT_TOOL_PORT=str(free_port()),
            DASHBOARD_PORT=str(free_port()),
        )
        if cold_cache:
            env["UV_CACHE_DIR"] = str(root / "uv-cache")
        started = time.monotonic()
        subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
        output = root / "make-run.log"
        with output.open("wb") as log:
            make = subprocess.Popen(
                ["make", "run"],
                cwd=clone,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stamp = clone / ".venv" / ".installed-stamp"
        installed_at: float | None = None
        try:
            while READY not in (text := output.read_text(errors="replace")):
                now = time.monotonic()
                if installed_at is None and stamp.exists():
                    installed_at = now - started
                if make.poll() is not None:
                    raise RuntimeError(f"make run exited {make.returncode}:\n{text[-3000:]}")
                if now - started > TIMEOUT_S:
                    raise TimeoutError(f"no READY in {TIMEOUT_S} s:\n{text[-3000:]}")
                time.sleep(0.1)
            ready_at = time.monotonic() - started
            first_handoff(
                f"http://127.0.0.1:{parlant_port}", clone / "data" / "parlant" / "operator_token"
            )
            handoff_at = time.monotonic() - started
        finally:
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
        return installed_at or ready_at, ready_at, handoff_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-cache", action="store_true", help="an empty uv cache each run")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cache = "empty uv cache" if args.cold_cache else "uv's cache as it is"
    print(f"clone of {head} -> make run READY, {cache}, load average {os.getloadavg()[0]:.1f}")
    print("| run | clone -> installed | clone -> READY | clone -> first handoff |")
    print("| --- | --- | --- | --- |")
    ready: list[float] = []
    handoffs: list[float] = []
    for n in range(1, args.runs + 1):
        installed_s, ready_s, handoff_s = one_run(args.cold_cache)
        ready.append(ready_s)
        handoffs.append(handoff_s)
        print(f"| {n} | {installed_s:.0f} s | {ready_s:.0f} s | {handoff_s:.0f} s |", flush=True)
    print(
        f"median clone -> READY: {statistics.median(ready):.0f} s, "
        f"clone -> first handoff: {statistics.median(handoffs):.0f} s"
    )


if __name__ == "__main__":
    main()
