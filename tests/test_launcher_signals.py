"""`make run` stops every process it started on SIGINT, SIGTERM and a closed terminal (SIGHUP).

The real launcher starts the real agent and the real dashboard (Streamlit); once the ready block
is out, the signal is sent and every port must be free again and no process of any child's
process group left. The hangup case closes a real pseudo-terminal that is the launcher's
controlling terminal, as closing a terminal window does: the kernel sends SIGHUP and later writes
to the terminal fail.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from config.ports import bind_problem
from tests.support.agent_process import REPO_ROOT, free_port

READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 30


class Output:
    """Everything the launcher writes, read continuously so its pipe or terminal never fills.

    `stop()` ends the reading first: a read blocked on a descriptor keeps its file open, so a
    terminal closed under a blocked reader would not hang up.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._chunks: list[bytes] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stopped.is_set():
            if not select.select([self._fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_for(self, needle: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while needle not in self.text:
            assert process.poll() is None, f"launcher exited:\n{self.text[-4000:]}"
            assert time.monotonic() < deadline, f"no {needle!r}:\n{self.text[-4000:]}"
            time.sleep(0.2)


def launcher_env(tmp_path: Path) -> tuple[dict[str, str], list[int]]:
    ports = [free_port() for _ in range(3)]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_", "BRIDGE_", "LOG_"))
    }
    env.update(
        PARLANT_NLP="offline",
        PARLANT_PORT=str(ports[0]),
        PARLANT_TOOL_PORT=str(ports[1]),
        DASHBOARD_PORT=str(ports[2]),
        PARLANT_HOME=str(tmp_path / "home"),
        DOTENV_PATH=str(tmp_path / "no.env"),
    )
    return env, ports


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def take_terminal() -> None:
    """In the child, after setsid: make stdin (the pty's other end) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


# SIGINT (Ctrl-C, how the product is stopped) and SIGHUP (our own handler) in `make test`;
# SIGTERM reaches the very handler SIGINT does (honcho's Manager installs one `_terminate` for
# both), so its start of the whole product runs in `make test-long`.
@pytest.mark.parametrize(
    "how", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.long), "terminal closed (SIGHUP)"]
)
def test_every_child_stops(how: str, tmp_path: Path) -> None:
    env, ports = launcher_env(tmp_path)
    command = [sys.executable, "-m", "launcher"]
    terminal = how.startswith("terminal")
    if terminal:
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
            preexec_fn=take_terminal,
        )
        os.close(follower)
        output = Output(leader)
    else:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert process.stdout is not None
        output = Output(process.stdout.fileno())
    groups: list[int] = []
    try:
        output.wait_for("READY: every process is ready.", process)
        groups = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", output.text)]
        assert len(groups) == 2, output.text  # the agent and the dashboard
        assert all(process_group_alive(group) for group in groups)
        if not terminal:
            # Written to a pipe (as to a log file): no colour codes, Parlant's lines included.
            assert "\x1b" not in output.text
            assert "\x1b" not in (tmp_path / "home" / "parlant.log").read_text()
        if terminal:
            output.stop()
            os.close(leader)  # the kernel hangs up: SIGHUP to the launcher
        else:
            process.send_signal(getattr(signal, how))
        process.wait(timeout=STOP_TIMEOUT_S)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while any(process_group_alive(group) for group in groups):
            assert time.monotonic() < deadline, f"left running after {how}: {groups}"
            time.sleep(0.2)
        for port in ports:
            assert bind_problem("127.0.0.1", port) is None, f"port {port} still taken"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for group in groups:
            if process_group_alive(group):
                os.killpg(group, signal.SIGKILL)
