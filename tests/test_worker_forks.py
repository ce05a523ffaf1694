"""xdist's workers forked from a zygote that has collected the suite (tests/support/worker_forks.py):
a forked worker is the `python -u -c BOOTSTRAP` xdist asked for, on its own standard streams,
environment and directory; its end is the end of the process xdist started; and without a
zygote, or with one that could not collect, the worker is exec'd as usual."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import worker_forks
from tests.support.agent_process import REPO_ROOT
from tests.support.forks import LaunchedServer

BOOTSTRAP = "import sys;exec(eval(sys.stdin.readline()))"  # execnet's popen_bootstrapline


def attached(address: Path, program: str, *, cwd: Path, stdin: str = "") -> subprocess.Popen[str]:
    """The worker process xdist would start, given `program` as its first line of input."""
    command = [sys.executable, "-I", "-S", worker_forks.__file__, "attach", str(address)]
    process = subprocess.Popen(
        [*command, "-u", "-c", BOOTSTRAP],
        cwd=cwd,
        env={**os.environ, "WORKER_FORKS_MARK": "from the attaching process"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(repr(program) + "\n" + stdin)
    process.stdin.flush()
    return process


def finished(process: subprocess.Popen[str]) -> tuple[int, list[str]]:
    stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    return process.returncode, stdout.splitlines()


@pytest.fixture(scope="module")
def zygote() -> Iterator[LaunchedServer]:
    started = worker_forks.launch(["tests/test_slack_blocks.py"], REPO_ROOT)
    yield started
    started.close()


def test_the_suites_own_workers_are_forked_from_its_zygote() -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ or os.environ.get("TESTS_EXEC") == "1":
        pytest.skip("only xdist's workers are forked (make test)")
    parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().split(b"\0")
    assert b"tests.support.worker_forks" in parent and b"serve" in parent, parent


def test_a_forked_worker_runs_on_the_attaching_processs_streams_environment_and_directory(
    zygote: LaunchedServer, tmp_path: Path
) -> None:
    program = "\n".join(
        [
            "import os, sys",
            "print(os.getcwd())",
            "print(os.environ['WORKER_FORKS_MARK'])",
            "print(os.getppid())",
            "print('tests.test_slack_blocks' in sys.modules)",
            "print(sys.stdin.readline().strip())",
            "sys.exit(3)",
        ]
    )
    process = attached(zygote.address, program, cwd=tmp_path, stdin="the second line\n")
    status, lines = finished(process)
    assert status == 3
    assert lines == [
        str(tmp_path),
        "from the attaching process",
        str(zygote.process.pid),  # a child of the zygote, not an exec of the attaching process
        "True",  # collected by the zygote before it forked
        "the second line",
    ]


def test_a_forked_worker_that_dies_of_a_signal_is_reported_so(
    zygote: LaunchedServer, tmp_path: Path
) -> None:
    program = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    status, _ = finished(attached(zygote.address, program, cwd=tmp_path))
    assert status == -signal.SIGKILL


def test_killing_the_attached_process_kills_its_forked_worker(
    zygote: LaunchedServer, tmp_path: Path
) -> None:
    program = "import os, time; print(os.getpid(), flush=True); time.sleep(120)"
    process = attached(zygote.address, program, cwd=tmp_path)
    assert process.stdout is not None
    worker = int(process.stdout.readline())
    assert worker != process.pid
    process.kill()  # as execnet does to a worker that does not end
    process.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{worker}").exists():
        assert time.monotonic() < deadline, f"worker {worker} outlived its attaching process"
        time.sleep(0.05)


def test_without_a_zygote_the_worker_is_execd_as_usual(tmp_path: Path) -> None:
    process = attached(tmp_path / "no-zygote", "import os; print(os.getpid())", cwd=tmp_path)
    status, lines = finished(process)
    assert (status, lines) == (0, [str(process.pid)])


def test_a_zygote_that_could_not_collect_refuses_and_the_worker_is_execd(tmp_path: Path) -> None:
    broken = worker_forks.launch(["tests/no_such_test_module.py"], REPO_ROOT)
    try:
        process = attached(broken.address, "import os; print(os.getpid())", cwd=tmp_path)
        status, lines = finished(process)
        assert (status, lines) == (0, [str(process.pid)])
        assert broken.process.poll() is None  # still serving, refusing each worker
    finally:
        broken.close()
