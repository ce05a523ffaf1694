"""Streamlit's command line with this project's log format (`LOG_FORMAT=json` included).

Streamlit gives each of its loggers a console handler of its own when the logger is first
asked for (`streamlit.logger.setup_formatter`); that function is pointed at ours before the
CLI starts, so Streamlit's and Tornado/uvicorn's lines come out in the same shape as the
agent's and the bridge's. Started by `python -m dashboard`, never directly.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import streamlit.cli_util
import streamlit.logger
from streamlit.web import cli

from config import EnvReader, SettingsError
from config.logs import LogFormat, configure_logging, handler, read_log_format
from dashboard import health
from dashboard.settings import DashboardSettings


def _install(log_format: LogFormat) -> None:
    def setup_formatter(logger: logging.Logger) -> None:
        for existing in list(logger.handlers):
            logger.removeHandler(existing)
        logger.addHandler(handler(log_format, "dashboard"))

    streamlit.logger.setup_formatter = setup_formatter
    configure_logging("info", log_format, "dashboard")
    if log_format == "json":
        # Streamlit prints its URL and "Stopping..." with click, outside logging.
        streamlit.cli_util.print_to_cli = _CliLines(logging.getLogger("streamlit.cli"))


class _CliLines:
    """`print_to_cli` as log lines: fragments printed with nl=False are joined first."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def __call__(self, message: str, nl: bool = True, **_: object) -> None:
        self._pending += message
        if nl:
            line, self._pending = self._pending.strip(), ""
            if line:
                self._logger.info(line)


def main() -> None:
    log_format: LogFormat = "text"
    # `python -m dashboard` has already refused bad settings: here they only keep the defaults.
    with contextlib.suppress(SettingsError):
        log_format = read_log_format(EnvReader())
    _install(log_format)
    with contextlib.suppress(SettingsError):
        health.install(DashboardSettings.from_env())
    sys.argv[0] = "streamlit"
    cli.main()


if __name__ == "__main__":
    main()
