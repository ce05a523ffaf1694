"""xdist's workers forked from one process that has collected the suite once already.

Each worker would otherwise import pytest, its plugins, the test modules and what they import
(Parlant, Streamlit, pandas, the project) before it collects: 3.7 s of CPU, of which a second
collection in the same process needs 0.6 s. On two cores, six workers doing it at once held
back the first test by some fifteen seconds, and a clean clone first needed one collection
of its own to fill the bytecode cache (else each worker compiled the same modules). Here the
xdist controller starts one "zygote" (`serve`), which collects the suite in-process, as a
worker would and through pytest's assertion rewriting, then waits; each worker is a fork of
it, and collects again with every module already imported.

xdist starts a worker as `PYTHON -u -c BOOTSTRAP` and talks to it over its stdin and stdout
(execnet's popen gateway). The suite gives xdist this file as PYTHON (`--tx
popen//python=...`, `worker_spec`), run with only the standard library (`-I -S`): the
`attach` side connects to the zygote's socket and hands it the three standard file
descriptors, its environment and working directory; the zygote forks a child that takes them
as its own and runs BOOTSTRAP as `python -u -c` would. `attach` waits for the child's exit
status, which the zygote reports, and exits with it, so xdist sees the process it started
end as the worker ends. If the zygote is gone or refuses (its collection failed, or left a
thread running, which would make forking unsafe), `attach` execs the plain worker instead:
the run is slower, never different.

What a test module, conftest or plugin does when imported happens once, in the zygote, whose
environment is the controller's: PYTEST_XDIST_WORKER and the other worker variables are not set
yet. Read them inside functions (as tests/support/agent_process.py does), never at import.

The zygote reaps its children and kills a child whose `attach` has gone (xdist kills the
process it started); at end of its own standard input (the controller is gone) it kills every
child and exits.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Only the zygote's and the controller's sides import the rest of the suite: `attach` runs with
# the standard library alone (`python -I -S`).
if TYPE_CHECKING:
    from tests.support.forks import LaunchedServer

# -- the worker's side: the process xdist starts --------------------------------------------------


def _plain_worker(arguments: list[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, *arguments])


def attach(address: str, arguments: list[str]) -> None:
    """Become the worker xdist asked for (`arguments`: `-u -c BOOTSTRAP`), forked by the
    zygote at `address`, or exec'd as usual if there is none."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(address)
        request = {"env": dict(os.environ), "cwd": os.getcwd(), "arguments": arguments}
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
    except OSError:
        connection.close()
        _plain_worker(arguments)
    # A Ctrl-C reaches the worker itself (the same process group); this process only waits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child: list[int] = []

    def forward(number: int, _frame: Any) -> None:
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child[0], number)

    signal.signal(signal.SIGTERM, forward)
    # No time limit: once the descriptors are sent, only the zygote may fork a worker on them
    # (its collection ends, or it dies and closes the connection).
    answers = connection.makefile("rb")
    while True:
        line = answers.readline()
        if not line:  # the zygote is gone: wait out the worker it forked, if any
            if not child:
                _plain_worker(arguments)
            with contextlib.suppress(ProcessLookupError):
                while True:
                    os.kill(child[0], 0)
                    time.sleep(0.2)
            os._exit(1)
        message = json.loads(line)
        if "refused" in message:
            connection.close()
            _plain_worker(arguments)
        if "started" in message:
            child.append(message["started"])
        if "exited" in message:
            status = int(message["exited"])
            if status < 0:  # died of a signal: so does this process, as Popen would report
                with contextlib.suppress(OSError):  # SIGKILL's cannot be set, nor need be
                    signal.signal(-status, signal.SIG_DFL)
                os.kill(os.getpid(), -status)
            os._exit(status)


# -- the zygote -------------------------------------------------------------------------------------


def _collect(pytest_args: list[str]) -> str | None:
    """Collect the suite in this process as a worker would; the reason not to fork, if any."""
    import gc
    import threading

    import pytest

    # Not the cache: the controller writes the run's (last failed); a run with `--lf` or
    # `--ff`, options of the cache, then gets exec'd workers.
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        status = pytest.main(["--collect-only", "-qq", "-p", "no:cacheprovider", *pytest_args])
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return f"the zygote's collection ended with {status!r}"
    if threading.active_count() != 1:
        return f"collecting left threads running: {threading.enumerate()}"
    # What collecting made lives as long as the zygote: out of the collector's sight, so the
    # workers' collections walk only what they make, and leave the shared pages unwritten.
    gc.collect()
    gc.freeze()
    return None


def _become_worker(request: dict[str, Any], fds: list[int], inherited: list[int]) -> None:
    """In the forked child: `python -u -c BOOTSTRAP` on the attaching process's stdio."""
    from tests.support.forks import end_as_the_interpreter, fresh_signal_handling

    try:
        fresh_signal_handling()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in {*fds, *inherited}:
            if fd > 2:
                os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        # -u: unbuffered standard output and error.
        sys.stdout, sys.stderr = (
            io.TextIOWrapper(open(fd, "wb", buffering=0, closefd=False), write_through=True)  # noqa: SIM115
            for fd in (1, 2)
        )
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        arguments = list(request["arguments"])
        program = arguments[arguments.index("-c") + 1]
        import types

        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        sys.argv = ["-c"]
        end_as_the_interpreter(lambda: exec(program, main.__dict__))
    finally:
        os._exit(1)  # the set-up failed: never back into the zygote's loop


def serve(listener: socket.socket, pytest_args: list[str]) -> None:
    from tests.support.forks import ParentLoop, kill

    refusal = _collect(pytest_args)
    if refusal:
        print(f"worker_forks: exec'ing each worker instead: {refusal}", file=sys.stderr)
    loop = ParentLoop()
    # A Ctrl-C reaches the whole process group: the workers take it, as xdist's do; the zygote
    # ends with the controller (end of its stdin) instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    clients: dict[int, socket.socket] = {}  # fd -> an attached worker's connection
    children: dict[int, int] = {}  # child pid -> the fd of its connection

    while True:
        ready = loop.wait([listener.fileno(), *clients])
        if ready is None:
            kill(children)
            return
        for pid, status in loop.exited():
            if pid in children:
                connection = clients.pop(children.pop(pid))
                with contextlib.suppress(OSError):
                    connection.sendall(json.dumps({"exited": status}).encode() + b"\n")
                connection.close()
        if listener.fileno() in ready:
            connection, _ = listener.accept()
            serving = [listener.fileno(), *loop.descriptors]
            _serve_one(connection, refusal, clients, children, serving)
        for fd in [fd for fd in ready if fd in clients]:
            # An attached worker sends nothing after its request: this is its end. (The number
            # may be a new connection's, the old one closed above: it has nothing to read.)
            try:
                ended = not clients[fd].recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                ended = False
            except OSError:
                ended = True
            if ended:
                kill([pid for pid, asked in children.items() if asked == fd])


def _serve_one(
    connection: socket.socket,
    refusal: str | None,
    clients: dict[int, socket.socket],
    children: dict[int, int],
    inherited: list[int],
) -> None:
    line, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    if refusal or len(fds) != 3 or not line.endswith(b"\n"):
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps({"refused": refusal or "bad request"}).encode() + b"\n")
        connection.close()
        return
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        _become_worker(request, fds, [*inherited, *clients, connection.fileno()])
    for fd in fds:
        os.close(fd)
    clients[connection.fileno()] = connection
    children[pid] = connection.fileno()
    connection.sendall(json.dumps({"started": pid}).encode() + b"\n")


# -- the controller's side --------------------------------------------------------------------------


def launch(pytest_args: Sequence[str], cwd: Path) -> LaunchedServer:
    """A zygote collecting with `pytest_args` (the controller's own: the same test paths and
    plugins; `-n 0` is added after them, making it one process) in `cwd`, the controller's
    directory. It ends when its stdin is closed (`close()`)."""
    from tests.support.forks import LaunchedServer

    address = Path(tempfile.mkdtemp(prefix="worker-forks-")) / "socket"
    # Listening before the zygote runs: the workers connect (and queue their requests) while
    # it starts and collects.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(address))
    listener.listen(64)
    # Never a worker itself, even when launched from one (its collection must not connect to
    # the run's fork server, as a worker's does: that would start a thread).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    command = ["-m", "tests.support.worker_forks", "serve", str(listener.fileno())]
    process = subprocess.Popen(
        [sys.executable, *command, *pytest_args, "-n", "0"],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        pass_fds=[listener.fileno()],
    )
    listener.close()
    return LaunchedServer(process, address)


def worker_spec(address: Path) -> str:
    """The `--tx` spec of a worker forked from the zygote at `address`."""
    here = str(Path(__file__).resolve())
    command = shlex.join([sys.executable, "-I", "-S", here, "attach", str(address)])
    return f"popen//python={command}"


if __name__ == "__main__":
    if sys.argv[1] == "attach":
        attach(sys.argv[2], sys.argv[3:])
    else:
        serve(socket.socket(fileno=int(sys.argv[2])), sys.argv[3:])
