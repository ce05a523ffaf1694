"""Socket Mode's connection failures as one clear line a minute, not a traceback every 10 s.

slack_sdk's Socket Mode client retries a failed connection every `ping_interval` (10 s) and logs
each failure with `logger.exception`: with Slack unreachable, a 40-line traceback every 10 s
buried everything else `make run` printed. The client logs to the logger it is given; this one
rewrites those records into a line saying what to check, and lets one through a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

LOGGER_NAME = "slack_bridge.socket_mode"
REPEAT_S = 60.0
# What slack_sdk's Socket Mode client (socket_mode/aiohttp and async_client) logs when it cannot
# open its connection; it retries after each.
FAILURE_PREFIXES = ("Failed to connect (error: ", "Failed to retrieve WSS URL: ")


def unreachable_line(error: str) -> str:
    return (
        f"Slack not reachable: Socket Mode cannot connect ({error}); check that this machine "
        "reaches slack.com (a firewall or proxy) and SLACK_APP_TOKEN (an app-level token with "
        "connections:write); `python -m slack_bridge check` names the problem. Retrying every "
        "10 s, this line once a minute"
    )


def _error_text(message: str) -> str:
    for prefix in FAILURE_PREFIXES:
        if message.startswith(prefix):
            error = message.removeprefix(prefix)
            return error.removesuffix("); Retrying...").strip()
    return message


class ConnectFailures(logging.Filter):
    """Rewrites the client's failure records (no traceback) and passes one per REPEAT_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last_at: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(FAILURE_PREFIXES):
            return True
        now = self._clock()
        if self._last_at is not None and now - self._last_at < REPEAT_S:
            return False
        record.msg = unreachable_line(_error_text(message))
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._last_at = now
        return True


def socket_mode_logger() -> logging.Logger:
    """The logger to give the Socket Mode client (its filter installed once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, ConnectFailures) for f in logger.filters):
        logger.addFilter(ConnectFailures())
    return logger
