"""A text log line is one record: what a caller sends cannot start a line of its own."""

from __future__ import annotations

import io
import logging

from config.logs import handler

FORGED = "2026-12-07 01:00:00,000 INFO agent operator token accepted"


def text_log(*records: tuple[str, tuple[object, ...]], exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    own = handler("text", "agent")
    assert isinstance(own, logging.StreamHandler)
    own.setStream(stream)
    logger = logging.getLogger("test-log-lines")
    logger.propagate = False
    # Another handler formats each record first, leaving its rendering of the traceback on it.
    first = logging.StreamHandler(io.StringIO())
    logger.addHandler(first)
    logger.addHandler(own)
    try:
        for message, args in records:
            logger.warning(message, *args)
        if exc is not None:
            try:
                raise exc
            except BaseException:
                logger.exception("failed")
    finally:
        logger.removeHandler(first)
        logger.removeHandler(own)
    return stream.getvalue()


def test_a_newline_or_nul_in_a_logged_value_is_escaped() -> None:
    written = text_log(("agent not found agent_id=%s", (f"x\n{FORGED}\r\x00\x1b\u2028",)))
    lines = written.splitlines()
    assert len(lines) == 1, written
    assert "\x00" not in written and "\r" not in written and "\x1b" not in written
    assert lines[0].endswith(f"agent_id=x\\n{FORGED}\\r\\x00\\x1b\\u2028")


def test_a_traceback_is_indented_so_its_message_forges_no_line() -> None:
    written = text_log(exc=ValueError(f"bad id x\n{FORGED}\x00"))
    first, *rest = written.splitlines()
    assert first.endswith(" ERROR test-log-lines failed")
    assert rest and all(line.startswith("    ") for line in rest), written
    assert "\x00" not in written
    assert not any(line.startswith(FORGED[:10]) for line in rest)


def test_tabs_and_text_in_other_scripts_are_kept() -> None:
    written = text_log(("note=%s", ("a\tb é 日本 👍",)))
    assert written.rstrip("\n").endswith("note=a\tb é 日本 👍")
