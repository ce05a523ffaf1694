"""Start `python -m agent`, `python -m slack_bridge` and `python -m dashboard` from a process
that has their dependencies imported already.

Importing Parlant costs about three seconds of CPU, most of an agent's start, and the suite
starts some fifty agents and eighty bridges on two cores. One pre-loaded process per test run
(the "fork server", as in multiprocessing's forkserver or gunicorn's preload) forks a child for
each start; the child sets the environment, working directory and log file of the start and
runs the package's `__main__` exactly as `python -m <package>` does. Only third-party modules
are pre-loaded, never the project's own packages, so nothing a start configures is decided
before it. One exception is undone in the child: `parlant.bin.server` reads PARLANT_HOME and
opens its log file there when imported (and `parlant.sdk` takes that home by value); the server
pre-loads them under a throwaway home (half a second of each agent's CPU), and a child that
imports them gets, at that moment, what a fresh import would have set (`_HomedOnImport`).
`python -m dashboard` ends by exec'ing `python -m dashboard.serve` (Streamlit): in a child,
that exec runs the module in place, the project's modules imported afresh (`_ExecInPlace`).

The fork server is the children's parent, so it reaps them and reports each exit status to
the test process that asked for the child; `ForkedProcess` is the test's handle with the part
of `subprocess.Popen` the tests use.

Run as `python -m tests.support.forks SOCKET`: it listens on that Unix socket, where each test
process (each xdist worker) connects and sends one JSON request per line (`{"module", "args",
"env", "cwd", "log", "errors"}`: standard error goes to `log` too unless `errors` names a
file); it answers `{"started": pid}`, and later `{"exited": pid, "status"}` (a negative status
is the signal that ended it, as with Popen). When a test process disconnects, the
children it still has are killed; at end of its own standard input (the process that started
it is gone) it kills every child and exits. No agent outlives the run.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.abc
import importlib.util
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, TypeAlias

# What the processes started this way import, found once per fork server (see
# _modules_to_preload).
ENTRY_POINTS = (
    "agent.server",
    "slack_bridge.runner",
    "slack_bridge.settings",
    "config.postgres_check",
    "agent.nlp.service_checks",
    # `python -m dashboard` execs `python -m dashboard.serve` (Streamlit), run in place here
    # (_ExecInPlace).
    "dashboard.serve",
    "dashboard.gated_app",
)
# Imported by the processes once they run, not when imported (uvicorn's protocols, the HTTP
# client's connection pool, the TLS bundle): pre-loaded too, so each start does not load them.
RUN_TIME_IMPORTS = (
    "anyio._backends._asyncio",
    "certifi",
    "encodings.idna",
    "h11",
    "httpcore",
    "rich._emoji_codes",
    "slack_bolt.listener_matcher.async_builtins",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.wsproto_impl",
    "wsproto",
    # What the dashboard's pages import on their first run: Streamlit's data frames and the
    # watcher of its script.
    "pandas",
    "pyarrow",
    "watchdog.observers",
)
# Imported fresh in each child: the project's packages, and Parlant's modules that read the
# environment (PARLANT_HOME) or create files when imported.
NOT_PRELOADED = (
    "agent",
    "config",
    "handoff",
    "slack_bridge",
    "slack_kit",
    "dashboard",
    "launcher",
    "tests",
    "__main__",
)


Process: TypeAlias = "subprocess.Popen[bytes] | ForkedProcess"


def _preloadable(name: str) -> bool:
    return not any(name == top or name.startswith(f"{top}.") for top in NOT_PRELOADED)


def _project_modules() -> list[str]:
    """The project's modules imported in this process (`tests` is there as this module's
    package, `__main__` as the program)."""
    return [
        name
        for name in sys.modules
        if not _preloadable(name) and name.split(".")[0] not in ("tests", "__main__")
    ]


# -- the fork server (its own process) ---------------------------------------------------------


def _probe(home: str) -> list[str]:
    """Import the entry points (PARLANT_HOME set to `home`) and list what they loaded."""
    os.environ["PARLANT_HOME"] = home
    for entry_point in ENTRY_POINTS:
        importlib.import_module(entry_point)
    return [name for name in sys.modules if _preloadable(name)]


def _modules_to_preload() -> list[str]:
    """The modules the entry points load, in load order, found by importing them in a
    throwaway child (its PARLANT_HOME a temporary directory) so this process stays clean."""
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


def _preload() -> None:
    # parlant.bin.server settles its home when imported: a throwaway one here; each child
    # settles its own when it imports the module (_HomedOnImport).
    os.environ["PARLANT_HOME"] = tempfile.mkdtemp(prefix="fork-server-home-")
    for name in [*_modules_to_preload(), *RUN_TIME_IMPORTS]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    leaked = _project_modules()
    if leaked:
        raise RuntimeError(f"fork server: pre-loading imported {leaked[:5]}")
    if threading.active_count() != 1:
        raise RuntimeError("fork server: pre-loading started a thread; forking would be unsafe")
    # What pre-loading made lives as long as the server: out of the collector's sight, so a
    # child's collections (the agent's and the bridge's full collection at start among them,
    # config/gc_pauses.py) walk only what the child made, and leave the shared pages unwritten.
    gc.collect()
    gc.freeze()


# Pre-loaded, but settled in each child only when it imports them (_HomedOnImport).
HOME_READERS = ("parlant.bin.server", "parlant.sdk")


class _HomedOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Hands a child the pre-loaded `parlant.bin.server` and `parlant.sdk` when it imports
    them, doing then what their import would have done with the environment of that moment:
    the server module settles PARLANT_HOME (creating it, putting it on sys.path, opening its
    log there) and the SDK takes that home by value. The modules' other work (half a second
    of each agent's CPU) stays done. The log is a FileHandler and a StreamHandler on the shared
    "parlant" logger: the pre-loaded ones are closed and removed, so nothing is logged twice
    nor into the server's throwaway home."""

    def __init__(self, modules: dict[str, Any]) -> None:
        self._modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self._modules:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> Any:
        return self._modules.pop(spec.name)

    def exec_module(self, module: Any) -> None:
        if module.__name__ == "parlant.sdk":
            import parlant.bin.server as server  # through this finder when not yet settled

            module.PARLANT_HOME_DIR = server.PARLANT_HOME_DIR
            return
        default = "runtime-data" if Path("runtime-data").exists() else "parlant-data"
        home = Path(os.environ.get("PARLANT_HOME", default))
        home.mkdir(parents=True, exist_ok=True)
        module.DEFAULT_HOME_DIR = default
        module.PARLANT_HOME_DIR = home
        sys.path.append(home.as_posix())
        for handler in list(module.LOGGER.raw_logger.handlers):
            module.LOGGER.raw_logger.removeHandler(handler)
            handler.close()
        module.LOGGER = module.FileLogger(home / "parlant.log", module.TRACER, module.LogLevel.INFO)


def _home_parlant_on_import() -> None:
    modules = {name: sys.modules.pop(name) for name in HOME_READERS if name in sys.modules}
    for name in modules:
        # Else `from parlant.bin import server` would find the attribute and skip the import.
        package, _, attribute = name.rpartition(".")
        with contextlib.suppress(AttributeError):
            delattr(sys.modules[package], attribute)
    if modules:
        sys.meta_path.insert(0, _HomedOnImport(modules))


class _ExecInPlace(BaseException):
    """`os.execv(sys.executable, [sys.executable, "-m", module, *args])` in a forked child:
    carried out by running `module` in this process (_run_child), whose pre-loaded imports
    would be thrown away by a real exec (`python -m dashboard` ends in one). A BaseException,
    so that no `except Exception` on the way catches it; an exec runs none of them either."""

    def __init__(self, module: str, arguments: list[str]) -> None:
        super().__init__(module)
        self.module = module
        self.arguments = arguments


def _execv(path: Any, argv: Any) -> NoReturn:
    if path == sys.executable and len(argv) >= 3 and argv[1] == "-m":
        raise _ExecInPlace(str(argv[2]), [str(arg) for arg in argv[3:]])
    _real_execv(path, argv)


_real_execv = os.execv


def _forget_the_project() -> None:
    """What an exec starts without: the project's modules the first program imported (a new
    program imports them afresh, settings read from its environment)."""
    for name in _project_modules():
        del sys.modules[name]


def _run_child(request: dict[str, Any], channels: list[int]) -> None:
    """In the forked child: become `python -m <module>` with the request's settings."""
    try:
        fresh_signal_handling()
        # Opened before the server's pipes are given up, so none lands on fd 0, 1 or 2.
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        log = os.open(request["log"], flags, 0o600)
        errors = os.open(request["errors"], flags, 0o600) if request.get("errors") else log
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(errors, 2)
        for fd in {log, errors, devnull}:
            os.close(fd)
        for fd in channels:
            if fd > 2:
                os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _home_parlant_on_import()
        os.execv = _execv
        module, args = request["module"], list(request.get("args", []))

        def program() -> None:
            nonlocal module, args
            import runpy

            while True:
                sys.argv = [module, *args]
                try:
                    runpy.run_module(module, run_name="__main__", alter_sys=True)
                    return
                except _ExecInPlace as exec_:
                    _forget_the_project()
                    module, args = exec_.module, exec_.arguments

        end_as_the_interpreter(program)
    finally:
        os._exit(1)  # the set-up failed: never back into the server's loop


def fresh_signal_handling() -> None:
    """In a forked child: the signal handling an interpreter starts with, not its server's."""
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def end_as_the_interpreter(program: Callable[[], object]) -> NoReturn:
    """In a forked child: run `program` and end as the interpreter ends a program: with
    SystemExit's code, of SIGINT for a KeyboardInterrupt, with 1 and the traceback printed for
    any other exception; the atexit handlers run and the streams flushed. Never returns (a
    forked child must not go on into its parent's code)."""
    code = 1
    try:
        try:
            program()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except KeyboardInterrupt:
            # As the interpreter does: die of the signal, so the status says SIGINT.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:
            import traceback

            traceback.print_exc()
        import atexit

        atexit._run_exitfuncs()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ParentLoop:
    """What a forking server's loop needs besides its own requests: waking when a child exits
    (SIGCHLD through a pipe the select watches), ending when the process that started the
    server is gone (end of its stdin), and its exited children's statuses. The agents' fork
    server and the workers' zygote (tests/support/worker_forks.py) share it."""

    def __init__(self) -> None:
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        signal.set_wakeup_fd(self._wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self._control = sys.stdin.fileno()

    @property
    def descriptors(self) -> list[int]:
        """Its own descriptors, which a forked child closes."""
        return [self._control, self._wake_read, self._wake_write]

    def wait(self, watched: Sequence[int]) -> list[int] | None:
        """The ready descriptors among `watched`, or None once the starting process is gone."""
        ready, _, _ = select.select([self._control, self._wake_read, *watched], [], [])
        if self._wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 4096)
        if self._control in ready and not os.read(self._control, 4096):
            return None
        return [fd for fd in ready if fd not in (self._control, self._wake_read)]

    @staticmethod
    def exited() -> list[tuple[int, int]]:
        """Each child that has exited since the last call: its pid and its status as Popen
        reports it (a negative status is the signal that ended it)."""
        statuses: list[tuple[int, int]] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return statuses
            if pid == 0:
                return statuses
            statuses.append((pid, os.waitstatus_to_exitcode(status)))


def kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def serve(address: Path) -> None:
    # Listening before pre-loading: the test processes connect (and queue their first
    # requests) while it runs.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(address))
    listener.listen(64)
    _preload()
    loop = ParentLoop()
    clients: dict[int, socket.socket] = {}  # fd -> connection
    pending: dict[int, bytes] = {}
    owner: dict[int, int] = {}  # child pid -> the fd of the connection that asked for it

    def tell(fd: int, message: dict[str, Any]) -> None:
        if fd in clients:
            with contextlib.suppress(OSError):
                clients[fd].sendall(json.dumps(message).encode() + b"\n")

    def reap() -> None:
        for pid, status in loop.exited():
            if pid in owner:
                tell(owner.pop(pid), {"exited": pid, "status": status})

    while True:
        ready = loop.wait([listener.fileno(), *clients])
        if ready is None:
            kill(owner)
            return
        reap()
        if listener.fileno() in ready:
            connection, _ = listener.accept()
            clients[connection.fileno()] = connection
            pending[connection.fileno()] = b""
        for fd in [fd for fd in ready if fd in clients]:
            chunk = clients[fd].recv(65536)
            if not chunk:
                kill([pid for pid, asked in owner.items() if asked == fd])
                clients.pop(fd).close()
                del pending[fd]
                continue
            pending[fd] += chunk
            while b"\n" in pending[fd]:
                line, pending[fd] = pending[fd].split(b"\n", 1)
                inherited = [listener.fileno(), *loop.descriptors, *clients]
                pid = os.fork()
                if pid == 0:
                    _run_child(json.loads(line), inherited)
                owner[pid] = fd
                tell(fd, {"started": pid})
        reap()


# -- the test's side -----------------------------------------------------------------------------


@dataclass
class LaunchedServer:
    """A fork server this process started, on a socket in a temporary directory of its own;
    it ends when its stdin is closed."""

    process: subprocess.Popen[bytes]
    address: Path

    @classmethod
    def launch(cls, repo_root: Path) -> LaunchedServer:
        address = Path(tempfile.mkdtemp(prefix="fork-server-")) / "socket"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLANT_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.forks", str(address)],
            cwd=repo_root,
            env=env,
            stdin=subprocess.PIPE,
        )
        return cls(process, address)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        shutil.rmtree(self.address.parent, ignore_errors=True)


class ForkServer:
    """A test process's connection to the run's fork server, and what it reported.

    `address`: the socket of a server another process started (the xdist controller, for all
    its workers); without it, this process starts its own on first use."""

    def __init__(self, repo_root: Path, address: Path | None = None) -> None:
        self._repo_root = repo_root
        self._address = address
        self._own: LaunchedServer | None = None
        self._connection: socket.socket | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._started: list[int] = []
        self._exited: dict[int, int] = {}

    def _connect(self) -> socket.socket:
        if self._connection is None:
            if self._address is None:
                self._own = LaunchedServer.launch(self._repo_root)
                self._address = self._own.address
            deadline = time.monotonic() + 60
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            while True:
                try:
                    connection.connect(str(self._address))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no fork server at {self._address}") from None
                    time.sleep(0.05)
            self._connection = connection
            threading.Thread(
                target=self._read, args=(connection.makefile("rb"),), daemon=True
            ).start()
        return self._connection

    def _read(self, answers: IO[bytes]) -> None:
        for line in answers:
            message = json.loads(line)
            with self._changed:
                if "started" in message:
                    self._started.append(message["started"])
                else:
                    self._exited[message["exited"]] = message["status"]
                self._changed.notify_all()
        with self._changed:
            self._connection = None
            self._changed.notify_all()

    def begin(self) -> None:
        """Connect now (and start pre-loading, if this process runs its own server)."""
        with self._lock:
            self._connect()

    def start(
        self,
        module: str,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        args: Sequence[str] = (),
        errors: Path | None = None,
    ) -> ForkedProcess:
        # As with Popen given an open file: the log exists once the start returns.
        for path in (log, errors):
            if path is not None:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        with self._lock:
            connection = self._connect()
            request = {
                "module": module,
                "args": list(args),
                "env": env,
                "cwd": str(cwd),
                "log": str(log),
                "errors": str(errors) if errors else None,
            }
            connection.sendall(json.dumps(request).encode() + b"\n")
            with self._changed:
                # The first start waits for the pre-loading too.
                if not self._changed.wait_for(
                    lambda: self._started or self._connection is None, 120
                ):
                    raise TimeoutError("the fork server did not answer in 120 s")
                if not self._started:
                    raise RuntimeError("the fork server closed the connection")
                return ForkedProcess(self._started.pop(0), self)

    def status(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exited, timeout)
            return self._exited.get(pid)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._own is not None:
            self._own.close()


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


def run(
    module: str, *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """As `subprocess.run([python, "-m", module, *args], capture_output=True, text=True)`: for
    the runs that stop at start (a bad setting, `--help`), which would otherwise spend most of
    their time importing."""
    command = [sys.executable, "-m", module, *args]
    if server is None:
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    with tempfile.TemporaryDirectory(prefix="forked-run-") as directory:
        stdout, stderr = Path(directory, "stdout"), Path(directory, "stderr")
        process = server.start(module, env, cwd, stdout, args=args, errors=stderr)
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(command, status, stdout.read_text(), stderr.read_text())


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
