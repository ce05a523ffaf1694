"""The processes' one logging set-up (config/logs.py): what reaches the terminal at each level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from config.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.parametrize(("level", "shown"), [("info", False), ("warning", False), ("debug", True)])
def test_each_http_request_is_logged_only_at_debug(
    restored_logging: None, capfd: pytest.CaptureFixture[str], level: str, shown: bool
) -> None:
    """httpx logs every request at INFO with its URL (session and customer ids in it): 92 of
    114 terminal lines after READY were those. A real request through httpx, then the
    terminal."""
    configure_logging(level, "text", "test")
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.get("http://parlant.internal/sessions/s-123/events")
    logging.getLogger("test").warning("a warning still shows")
    err = capfd.readouterr().err
    assert ("HTTP Request: GET http://parlant.internal/sessions/s-123/events" in err) is shown
    assert "a warning still shows" in err
