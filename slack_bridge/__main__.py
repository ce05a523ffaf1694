"""`python -m slack_bridge` runs the bridge; `python -m slack_bridge check` checks the set-up."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from config import SettingsError


def main(argv: list[str]) -> int:
    try:
        from slack_bridge.settings import BridgeSettings

        settings = BridgeSettings.from_env()
    except SettingsError as error:
        print(f"slack_bridge: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if argv[:1] == ["check"]:
        from slack_bridge.check import run_checks

        return asyncio.run(run_checks(settings))
    if argv:
        print(
            f"slack_bridge: unknown command {argv[0]!r}; use no argument or 'check'",
            file=sys.stderr,
        )
        return 2
    if settings.slack is None:
        print(
            "slack_bridge: Slack is not configured (set SLACK_BOT_TOKEN, SLACK_ESCALATION_CHANNEL and "
            "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET); handoffs show in the dashboard only",
            file=sys.stderr,
        )
        return 0
    from slack_bridge.runner import run_bridge

    async def run_until_stopped() -> None:
        task = asyncio.create_task(run_bridge(settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(run_until_stopped())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
