"""One logging set-up for every process: plain text lines, or one JSON object per line.

`LOG_FORMAT=json` is for log shippers (Loki, Elasticsearch, CloudWatch): every line a process
writes through `logging` becomes one object with `time`, `level`, `logger`, `process` and
`message`. Parlant renders its own lines with structlog's colourful console renderer before
they reach `logging`; `adopt_parlant_logger` takes the colour codes out (also from its
parlant.log file) and, in JSON mode, the timestamp and level structlog put in front.
Colour is never written by our handlers: log files stay free of escape codes.
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
    return logging.Formatter(TEXT_FORMAT)


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
            existing.addFilter(PlainText())  # parlant.log keeps Parlant's layout, minus colour
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
