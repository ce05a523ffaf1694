"""Shared fixtures: one real agent process per test session (per xdist worker), on free ports
and a temporary home. Modules that need their own settings start their own agent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Parlant creates its home dir when first imported; keep test imports out of the work tree.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-test-import-"))

from parlant.client import ParlantClient
from xdist.remote import Producer
from xdist.scheduler.protocol import Scheduling

from tests.support import forks, worker_forks
from tests.support.agent_process import REPO_ROOT, AgentProcess

# The browser fixture, for the tests that drive chromium (a fixture is found by its name here).
from tests.support.browser import chromium  # noqa: F401
from tests.support.postgres import PostgresCluster, postgres_bin_dir
from tests.support.scheduling import SplitModuleScheduling, rank
from tests.support.tls_context import share_default_context

share_default_context()

# Property tests without their own example count follow the profile: "suite" for `make test`
# (Hypothesis's own default of 100, the expensive store comparisons among them), "deep" for
# `make test-deep`. Loaded before any test module builds its settings.
settings.register_profile("suite", max_examples=100)
settings.register_profile("deep", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


FORK_SERVER_ENV = "TESTS_FORK_SERVER"
run_fork_server: forks.LaunchedServer | None = None
run_zygote: forks.LaunchedServer | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Agents and bridges forked from a pre-loaded process (tests/support/forks.py), an
    agent's start costing one second of CPU instead of four; TESTS_EXEC=1 execs each one.

    Under xdist the controller starts one fork server for the run, which pre-loads while the
    workers start and collect, and every worker connects to it. The workers themselves are
    forked from a process that has collected the suite once (tests/support/worker_forks.py)."""
    global run_fork_server, run_zygote
    # Deselected by `make test`, run by `make test-long` (registered here rather than in
    # pyproject.toml, whose every change makes `make` install the packages again).
    config.addinivalue_line(
        "markers", "long: a slower variant of a check make test already makes (make test-long)"
    )
    if os.environ.get("TESTS_EXEC") == "1":
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and config.getoption("numprocesses", None):
        run_zygote = worker_forks.launch(
            config.invocation_params.args, config.invocation_params.dir
        )
        config.option.tx = [worker_forks.worker_spec(run_zygote.address)] * len(config.option.tx)
        run_fork_server = forks.LaunchedServer.launch(REPO_ROOT)
        os.environ[FORK_SERVER_ENV] = str(run_fork_server.address)  # the workers inherit it
        return
    address = os.environ.get(FORK_SERVER_ENV) if worker is not None else None
    forks.server = forks.ForkServer(REPO_ROOT, Path(address) if address else None)
    if worker is not None:
        forks.server.begin()


def pytest_unconfigure(config: pytest.Config) -> None:
    if forks.server is not None:
        forks.server.stop()
        forks.server = None
    if run_fork_server is not None:
        run_fork_server.close()
    if run_zygote is not None:
        run_zygote.close()


# Optional: with `-p no:xdist` the hook does not exist, and the suite runs in one process.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """`--dist loadfile`, with long modules split in parts (tests/support/scheduling.py)."""
    if config.getvalue("dist") == "loadfile":
        return SplitModuleScheduling(config, log)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first, each module's tests kept together and in their order; with
    `--no-loadscope-reorder`, xdist hands out modules in this order."""
    items.sort(key=lambda item: rank(item.nodeid))


@pytest.fixture(scope="session")
def agent_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent") / "parlant"


@pytest.fixture(scope="session")
def agent(agent_home: Path) -> Iterator[AgentProcess]:
    process = AgentProcess(home=agent_home).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def client(agent: AgentProcess) -> ParlantClient:
    return ParlantClient(base_url=agent.url)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster per test process (each xdist worker has its own); tests
    take their own database in it."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (scripts/ensure_postgres.sh installs it)")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def postgres_url(postgres_cluster: PostgresCluster, request: pytest.FixtureRequest) -> str:
    """A fresh database in the session's cluster for this test module."""
    name = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "t_")[:40]
    return postgres_cluster.create_database(f"{name}_{os.getpid()}")
