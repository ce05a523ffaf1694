"""`python -m dashboard`: check the settings, then hand the process over to `streamlit run`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from config import SettingsError
from config.ports import check_listeners
from dashboard.settings import DashboardSettings

# The ASGI app (st.App) that serves app.py behind the password sign-in.
APP = Path(__file__).resolve().parent / "gated_app.py"


def streamlit_argv(settings: DashboardSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        # Streamlit's own CLI, with our log format installed first (dashboard/serve.py).
        "dashboard.serve",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        settings.host,
        "--server.port",
        str(settings.port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--logger.level",
        settings.log_level,
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="Run the supervisors' dashboard (Streamlit) against the Parlant server at "
        "PARLANT_URL. Settings come from the environment and .env; see .env.example.",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    parse_args(argv)
    try:
        settings = DashboardSettings.from_env()
        settings.check_exposure()
        check_listeners([settings.listener])
    except SettingsError as error:
        print(f"dashboard: configuration error: {error}", file=sys.stderr)
        return 2
    if settings.log_format == "text":
        print(
            f"dashboard: serving on http://{settings.host}:{settings.port} "
            f"(Parlant at {settings.parlant_url})",
            file=sys.stderr,
        )
    sys.stderr.flush()
    # exec rather than a child process: signals from honcho/systemd reach Streamlit directly.
    argv = streamlit_argv(settings)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
