"""`python -m slack_bridge` runs the bridge; `python -m slack_bridge check` checks the set-up."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from config import SettingsError
from config.home import ensure_writable_file_dir
from config.logs import configure_logging
from config.ports import check_listeners
from config.private_files import restrict_new_files


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m slack_bridge",
        description="Mirror escalated Parlant sessions into Slack threads and send operators' "
        "replies back. Settings come from the environment and .env; see .env.example.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["check"],
        help="check: verify the Slack app (token, scopes, channels, message metadata) and "
        "that Parlant answers, then exit",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        from slack_bridge.settings import BridgeSettings

        settings = BridgeSettings.from_env()
        if args.command is None and settings.slack is not None:
            check_listeners(settings.listeners)
            # The state holds operators' replies (the outbox): the owner's only, as `make run`
            # makes everything, also when the bridge is started on its own.
            restrict_new_files()
            if settings.state_url is None:
                ensure_writable_file_dir(settings.state_path, "BRIDGE_STATE_PATH")
    except SettingsError as error:
        print(f"slack_bridge: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, "bridge")
    if args.command == "check":
        from slack_bridge.check import run_checks

        return asyncio.run(run_checks(settings))
    if settings.slack is None:
        logging.getLogger("slack_bridge").warning(
            "Slack is not configured (set SLACK_BOT_TOKEN, SLACK_ESCALATION_CHANNEL and "
            "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET); handoffs show in the dashboard only"
        )
        return 0
    if settings.state_url is not None:
        from config.postgres_check import postgres_problem

        problem = postgres_problem(settings.state_url, "BRIDGE_STATE_URL")
        if problem is not None:
            print(f"slack_bridge: state store check failed: {problem}", file=sys.stderr)
            return 4
    from slack_bridge.runner import run_bridge

    async def run_until_stopped() -> None:
        task = asyncio.create_task(run_bridge(settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_until_stopped())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
