"""One logging set-up for every process: plain text lines, or one JSON object per line.

`LOG_FORMAT=json` is for log shippers (Loki, Elasticsearch, CloudWatch): every line a process
writes through `logging` becomes one object with `time`, `level`, `logger`, `process` and
`message`. Parlant renders its own lines with structlog's colourful console renderer before
they reach `logging`; `adopt_parlant_logger` takes the colour codes out (also from its
parlant.log file) and, in JSON mode, the timestamp and level structlog put in front.
Colour is never written by our handlers: log files stay free of escape codes. In text mode a
record is one line: control characters in a message (an id a caller sent, with a newline and a
forged timestamp after it, or a NUL) are written escaped, and the lines of a traceback are
indented, so nothing a caller writes can start a line of its own.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from config.env import EnvReader

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# C0 controls but the tab, DEL, C1 controls, and Unicode's line and paragraph separators.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}
TRACEBACK_INDENT = "    "
# What structlog's ConsoleRenderer puts before the message: "2026-01-01T10:00:00.1Z [info     ] "
STRUCTLOG_PREFIX = re.compile(r"^\S+\s+\[\s*(\w+)\s*\]\s+")


def read_log_format(env: EnvReader) -> LogFormat:
    value = env.choice("LOG_FORMAT", LOG_FORMATS, default="text")
    return "json" if value == "json" else "text"


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


class PlainText(logging.Filter):
    """Takes colour codes out of a record's message (Parlant colours its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\x1b" in message:
            record.msg, record.args = strip_ansi(message), None
        return True


def escape_controls(text: str) -> str:
    return CONTROL_CHARACTERS.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in NAMED_ESCAPES:
        return NAMED_ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class OneLine(logging.Formatter):
    """Text logs: a record is one line with control characters escaped, and the lines of its
    traceback or stack below it indented, whatever formatter (`inner`) lays the line out.

    The traceback is formatted here, not taken from the record: the first handler to format a
    record leaves its own rendering there (`exc_text`) for every later one."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        below = []
        if record.exc_info:
            below.append(self._inner.formatException(record.exc_info))
        elif record.exc_text:
            below.append(record.exc_text)
        if record.stack_info:
            below.append(self._inner.formatStack(record.stack_info))
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            line = escape_controls(self._inner.format(record))
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        indented = (
            TRACEBACK_INDENT + escape_controls(text_line)
            for text in below
            for text_line in text.splitlines()
        )
        return "\n".join((line, *indented))


class StructlogPrefix(logging.Filter):
    """JSON mode: structlog's time and level are already fields; keep the message only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        match = STRUCTLOG_PREFIX.match(message)
        if match:
            record.msg, record.args = message[match.end() :], None
        return True


def formatter(log_format: LogFormat, process: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"process": process},
            timestamp="time",  # ISO 8601 in UTC
        )
    return OneLine(logging.Formatter(TEXT_FORMAT))


def handler(log_format: LogFormat, process: str) -> logging.Handler:
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter(log_format, process))
    stream.addFilter(PlainText())
    if log_format == "json":
        stream.addFilter(StructlogPrefix())
    return stream


def configure_logging(level: str, log_format: LogFormat, process: str) -> None:
    """The root logger's one handler; call once at the start of a process."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(log_format, process))
    root.setLevel(level.upper())
    # httpx and httpcore log every request at INFO, with its URL (which names sessions and
    # customers): a flood at the terminal, and personal data at INFO. Shown with LOG_LEVEL=debug.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(
            logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
        )
    if log_format == "json":
        # A library's stray print() would be a line that is not JSON.
        sys.stdout = StrayOutput(logging.getLogger("stdout"))


class StrayOutput:
    """Text printed to stdout, logged one record per non-empty line."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._logger.info(strip_ansi(line.rstrip()))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def adopt_parlant_logger(log_format: LogFormat, process: str = "agent") -> None:
    """Parlant's logger (created when parlant.sdk is imported) writes through our formatting."""
    parlant = logging.getLogger("parlant")
    parlant.propagate = False  # it has its own handlers; propagating would print twice
    for existing in parlant.handlers:
        if isinstance(existing, logging.FileHandler):
            # parlant.log keeps Parlant's layout, minus colour, one line a record.
            existing.addFilter(PlainText())
            existing.setFormatter(OneLine(existing.formatter))
        else:
            parlant.removeHandler(existing)
    if log_format == "json":
        # Parlant's ASCII logo and progress bars go through rich's shared console, outside
        # logging: they are for people at a terminal, and would break one-object-per-line.
        import rich

        rich.reconfigure(file=open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    own = handler(log_format, process)
    if log_format == "text":
        own.addFilter(StructlogPrefix())  # our format already has the time and the level
    parlant.addHandler(own)


def announce(text: str, log_format: LogFormat, logger: logging.Logger) -> None:
    """A start-up message for people: printed as is, or one JSON log line in JSON mode."""
    if log_format == "json":
        logger.warning(" ".join(line.strip(" |+-") for line in text.splitlines()).strip())
    else:
        print(text, file=sys.stderr, flush=True)
