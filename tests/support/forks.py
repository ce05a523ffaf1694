"""Start `python -m agent` and `python -m slack_bridge` from a process that has their
dependencies imported already.

Importing Parlant costs about three seconds of CPU, most of an agent's start, and the suite
starts some fifty agents and eighty bridges on two cores. One pre-loaded process per test
worker (the "fork server", as in multiprocessing's forkserver or gunicorn's preload) forks a
child for each start; the child sets the environment, working directory and log file of the
start and runs the package's `__main__` exactly as `python -m <package>` does. Only third-party modules are pre-loaded, never the
project's own packages nor the Parlant modules that read the environment when imported
(`parlant.bin.server` reads PARLANT_HOME and opens its log file there, `parlant.sdk` imports
it), so nothing a start configures is decided before it: those are imported fresh in each
child, after its environment is set.

The fork server is the children's parent, so it reaps them and reports each exit status;
`ForkedProcess` is the test's handle with the part of `subprocess.Popen` the tests use.

Run as `python -m tests.support.forks [MODULE_LIST]`: it reads one JSON request per line on stdin
(`{"module", "env", "cwd", "log"}`) and answers `{"started": pid}`, and later `{"exited": pid, "status"}`
(a negative status is the signal that ended it, as with Popen). At end of input it kills the
children it still has and exits, so a dead test worker leaves no agent behind.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, TypeAlias

# What the processes started this way import, found once per fork server (see
# _modules_to_preload).
ENTRY_POINTS = (
    "agent.server",
    "slack_bridge.runner",
    "slack_bridge.settings",
    "config.postgres_check",
)
# Imported fresh in each child: the project's packages, and Parlant's modules that read the
# environment (PARLANT_HOME) or create files when imported.
NOT_PRELOADED = (
    "agent",
    "config",
    "handoff",
    "slack_bridge",
    "slack_escalation",
    "dashboard",
    "launcher",
    "tests",
    "parlant.bin",
    "parlant.sdk",
    "__main__",
)


Process: TypeAlias = "subprocess.Popen[bytes] | ForkedProcess"


def _preloadable(name: str) -> bool:
    return not any(name == top or name.startswith(f"{top}.") for top in NOT_PRELOADED)


# -- the fork server (its own process) ---------------------------------------------------------


def _probe(home: str) -> list[str]:
    """Import the entry points (PARLANT_HOME set to `home`) and list what they loaded."""
    os.environ["PARLANT_HOME"] = home
    for entry_point in ENTRY_POINTS:
        importlib.import_module(entry_point)
    return [name for name in sys.modules if _preloadable(name)]


def write_module_list(path: Path) -> None:
    """The probe in this (throwaway) process, its list (or why it failed) written whole to
    `path` at once."""
    try:
        with tempfile.TemporaryDirectory(prefix="fork-server-probe-") as home:
            answer: Any = _probe(home)
    except Exception:
        import traceback

        answer = {"error": traceback.format_exc()}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(answer))
    partial.rename(path)


def _modules_to_preload(listing: Path | None) -> list[str]:
    """The modules the entry points load, in load order: from `listing`, written by the
    xdist controller's probe for every worker (waited for), or found by importing them in a
    throwaway child so this process stays clean."""
    if listing is not None:
        deadline = time.monotonic() + 120
        while not listing.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"fork server: no module list at {listing} after 120 s")
            time.sleep(0.05)
        modules: list[str] | dict[str, str] = json.loads(listing.read_text())
        if isinstance(modules, dict):
            raise RuntimeError(f"fork server: the module probe failed:\n{modules['error']}")
        return modules
    home = tempfile.mkdtemp(prefix="fork-server-probe-")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 0
        try:
            with os.fdopen(write, "w") as out:
                json.dump(_probe(home), out)
        except BaseException:  # reported by the parent as an empty list
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(home, ignore_errors=True)
    if os.waitstatus_to_exitcode(status) != 0 or not text:
        raise RuntimeError(f"fork server: importing {ENTRY_POINTS} failed in the probe child")
    probed: list[str] = json.loads(text)
    return probed


def _preload(listing: Path | None) -> None:
    for name in _modules_to_preload(listing):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    # `tests` itself is here as this module's package.
    leaked = [
        name
        for name in sys.modules
        if not _preloadable(name) and name.split(".")[0] not in ("tests", "__main__")
    ]
    if leaked:
        raise RuntimeError(f"fork server: pre-loading imported {leaked[:5]}")
    if threading.active_count() != 1:
        raise RuntimeError("fork server: pre-loading started a thread; forking would be unsafe")


def _run_child(request: dict[str, Any], channels: list[int]) -> None:
    """In the forked child: become `python -m <module>` with the request's settings."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(
                number,
                signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL,
            )
        # Opened before the server's pipes are given up, so neither lands on fd 0, 1 or 2.
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(devnull)
        for fd in channels:
            if fd > 2:
                os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        module = request["module"]
        sys.argv = [module]
        import runpy

        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except KeyboardInterrupt:
            # As the interpreter does: die of the signal, so the status says SIGINT.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # printed, as the interpreter would
            import traceback

            traceback.print_exc()
            code = 1
        import atexit

        atexit._run_exitfuncs()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(listing: Path | None) -> None:
    _preload(listing)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    requests = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    out = sys.stdout
    children: set[int] = set()
    pending = b""

    def tell(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            tell({"exited": pid, "status": os.waitstatus_to_exitcode(status)})

    channels = [requests.fileno(), out.fileno(), wake_read, wake_write]
    while True:
        with contextlib.suppress(InterruptedError):
            ready, _, _ = select.select([requests.fileno(), wake_read], [], [])
        if wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 4096)
            reap()
        if requests.fileno() not in ready:
            continue
        chunk = os.read(requests.fileno(), 65536)
        if not chunk:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _run_child(request, channels)
            children.add(pid)
            tell({"started": pid})
        reap()


# -- the test's side -----------------------------------------------------------------------------


class ForkServer:
    """The per-worker fork server and what it reported; started by `begin` or on first use.

    `listing`: the modules to pre-load, as `write_module_list` writes them (else the server
    finds them itself)."""

    def __init__(self, repo_root: Path, listing: Path | None = None) -> None:
        self._repo_root = repo_root
        self._listing = listing
        self._server: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started: list[int] = []
        self._exited: dict[int, int] = {}

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._server is None or self._server.poll() is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PARLANT_")}
            listing = [str(self._listing)] if self._listing is not None else []
            self._server = subprocess.Popen(
                [sys.executable, "-m", "tests.support.forks", *listing],
                cwd=self._repo_root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            threading.Thread(target=self._read, args=(self._server.stdout,), daemon=True).start()
        return self._server

    def _read(self, answers: IO[bytes] | None) -> None:
        assert answers is not None
        for line in answers:
            message = json.loads(line)
            with self._changed:
                if "started" in message:
                    self._started.append(message["started"])
                else:
                    self._exited[message["exited"]] = message["status"]
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def begin(self) -> None:
        """Start pre-loading now, alongside the test collection."""
        with self._lock:
            self._ensure()

    def start(self, module: str, env: dict[str, str], cwd: Path, log: Path) -> ForkedProcess:
        with self._lock:
            server = self._ensure()
            assert server.stdin is not None
            request = {"module": module, "env": env, "cwd": str(cwd), "log": str(log)}
            server.stdin.write(json.dumps(request).encode() + b"\n")
            server.stdin.flush()
            with self._changed:
                # The first start waits for the pre-loading too.
                if not self._changed.wait_for(lambda: self._started or server.poll(), 120):
                    raise TimeoutError("the fork server did not answer in 120 s")
                if not self._started:
                    raise RuntimeError(f"the fork server exited with {server.returncode}")
                return ForkedProcess(self._started.pop(0), self)

    def status(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exited, timeout)
            return self._exited.get(pid)

    def stop(self) -> None:
        if self._server is not None and self._server.stdin is not None:
            self._server.stdin.close()
            self._server.wait(timeout=30)


class ForkedProcess:
    """A forked process: the part of `subprocess.Popen` the tests use."""

    def __init__(self, pid: int, server: ForkServer) -> None:
        self.pid = pid
        self._server = server
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server.status(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# Set by tests/conftest.py for the suite; the benches leave it unset and exec each process, so
# their CPU and memory figures are a plain process's.
server: ForkServer | None = None


def start(module: str, env: dict[str, str], cwd: Path, log: Path) -> Process:
    """`python -m <module>` with this environment, its output appended to `log`."""
    if server is not None:
        return server.start(module, env, cwd, log)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--list-modules"]:
        write_module_list(Path(sys.argv[2]))
    else:
        serve(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
