"""Socket Mode's connection failures: one line saying what to check, once a minute, no traceback
(slack_bridge/socket_mode_log.py), through a real logger and handler."""

from __future__ import annotations

import logging

import pytest

from slack_bridge.socket_mode_log import REPEAT_S, ConnectFailures


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Logged = tuple[logging.Logger, list[logging.LogRecord], Clock]


@pytest.fixture
def logged() -> Logged:
    clock = Clock()
    logger = logging.getLogger(f"test.socket_mode.{id(clock)}")
    logger.propagate = False
    logger.addFilter(ConnectFailures(clock))
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    return logger, records, clock


def fail(logger: logging.Logger) -> None:
    """As slack_sdk's Socket Mode client logs a failed connection."""
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    except ConnectionRefusedError as error:
        logger.exception(f"Failed to connect (error: {error}); Retrying...")


def test_a_failure_is_one_warning_saying_what_to_check(logged: Logged) -> None:
    logger, records, _ = logged
    fail(logger)
    (record,) = records
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage().startswith(
        "Slack not reachable: Socket Mode cannot connect ([Errno 111] Connect call failed"
    )
    assert "SLACK_APP_TOKEN" in record.getMessage()
    assert "python -m slack_bridge check" in record.getMessage()


def test_repeats_within_a_minute_are_left_out(logged: Logged) -> None:
    logger, records, clock = logged
    fail(logger)
    for _ in range(5):
        clock.now += 10
        fail(logger)
    assert len(records) == 1
    clock.now += REPEAT_S - 50 + 1
    fail(logger)
    assert len(records) == 2


def test_other_lines_pass_untouched(logged: Logged) -> None:
    logger, records, _ = logged
    fail(logger)
    logger.info("A new session (s1) has been established")
    assert records[-1].getMessage() == "A new session (s1) has been established"
