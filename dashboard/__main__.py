"""`python -m dashboard`: check the settings, then hand the process over to `streamlit run`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from config import SettingsError
from dashboard.settings import DashboardSettings

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_argv(settings: DashboardSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(settings.port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def main() -> int:
    try:
        settings = DashboardSettings.from_env()
    except SettingsError as error:
        print(f"dashboard: configuration error: {error}", file=sys.stderr)
        return 2
    print(
        f"dashboard: serving on http://127.0.0.1:{settings.port} (Parlant at {settings.parlant_url})",
        file=sys.stderr,
    )
    sys.stderr.flush()
    # exec rather than a child process: signals from honcho/systemd reach Streamlit directly.
    argv = streamlit_argv(settings)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
