"""The dashboard's server against a hostile page: framing and DNS rebinding, over real HTTP.

A password-less `python -m dashboard` (as `make run` starts it on loopback): a page on another
site that points its own name at 127.0.0.1 reaches it as that name, so only the dashboard's own
host names are answered, its websocket included; and every answer forbids framing by others.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client

from dashboard.http_guard import host_name
from tests.support.agent_process import AgentProcess
from tests.support.dashboard_process import Dashboard, running_dashboard

REBOUND = "rebinding.example"


@pytest.fixture(scope="module")
def open_dashboard(
    agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    with running_dashboard(agent.url, tmp_path_factory.mktemp("open-dashboard"), {}) as dashboard:
        yield dashboard


def get_as(dashboard: Dashboard, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{dashboard.url}{path}", headers={"Host": host}, timeout=30)


@pytest.mark.parametrize("path", ["/", "/session?session=abc", "/_stcore/health", "/healthz"])
def test_another_host_name_is_not_answered(open_dashboard: Dashboard, path: str) -> None:
    refused = get_as(open_dashboard, f"{REBOUND}:{open_dashboard.port}", path)
    assert refused.status_code == 421, refused.text
    assert "DASHBOARD_URL" in refused.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_its_own_host_names_are_answered(open_dashboard: Dashboard, host: str) -> None:
    assert get_as(open_dashboard, f"{host}:{open_dashboard.port}").status_code == 200


def stream_as(dashboard: Dashboard, host: str) -> None:
    """Opens Streamlit's websocket naming `host`, as a rebinding page's browser would."""
    connection = socket.create_connection(("127.0.0.1", dashboard.port), timeout=10)
    with websockets.sync.client.connect(  # type: ignore[call-overload]
        f"ws://{host}:{dashboard.port}/_stcore/stream",
        sock=connection,
        origin=f"http://{host}:{dashboard.port}",
        open_timeout=10,
    ):
        pass


def test_the_websocket_answers_only_its_own_host_names(open_dashboard: Dashboard) -> None:
    stream_as(open_dashboard, "127.0.0.1")
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        stream_as(open_dashboard, REBOUND)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", ["/", "/_stcore/health", "/healthz"])
def test_no_other_site_may_frame_it(open_dashboard: Dashboard, path: str) -> None:
    answer = get_as(open_dashboard, f"127.0.0.1:{open_dashboard.port}", path)
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8501", "127.0.0.1"),
        ("LocalHost:8501", "localhost"),
        ("[::1]:8501", "::1"),
        ("[::1]", "::1"),
        ("dash.example", "dash.example"),
        ("::1", "::1"),
        ("", ""),
    ],
)
def test_a_host_headers_name(header: str, name: str) -> None:
    assert host_name(header) == name
