"""Shared fixtures: a real agent process per test module, on free ports and a temporary home."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

# Parlant creates its home dir when first imported; keep test imports out of the work tree.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-test-import-"))

from parlant.client import ParlantClient  # noqa: E402

from tests.support.agent_process import AgentProcess  # noqa: E402


@pytest.fixture(scope="module")
def agent_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent") / "parlant"


@pytest.fixture(scope="module")
def agent(agent_home: Path) -> Iterator[AgentProcess]:
    process = AgentProcess(home=agent_home).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(agent: AgentProcess) -> ParlantClient:
    return ParlantClient(base_url=agent.url)
