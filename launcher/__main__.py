"""Start the agent, the dashboard and (when Slack is configured) the bridge as one command.

honcho prefixes each process's output with its name and stops them all when one exits, so the
product behaves like a single program. Every process gets the same operator token
(launcher/operator_token.py), so Parlant's operator calls are closed to everyone else.

Stopping: SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) all stop every process.
honcho starts each one in its own process group and sends the group SIGTERM, then SIGKILL
after a few seconds (Streamlit left without its terminal ignores SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import TextIO

from honcho.manager import Manager
from honcho.printer import Message, Printer

from config import EnvReader, SettingsError
from config.urls import local_url
from launcher.operator_token import OperatorToken, resolve_operator_token
from launcher.preflight import Plan, preflight
from launcher.ready import Readiness, read_readiness, ready_block, watch_readiness

HANGUP_RETURN_CODE = 129  # 128 + SIGHUP, as a shell reports it


def child_environment(token: OperatorToken, demo_customers: bool) -> dict[str, str]:
    environment = {**os.environ, "PARLANT_OPERATOR_TOKEN": token.value}
    if demo_customers:
        # The embedded defaults have no insurer to sign customers in: /support offers the
        # sample customers, each signed in with a real token the agent mints for the demo.
        environment["CUSTOMER_DEMO"] = "on"
    return environment


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m launcher",
        description="`make run`: start the agent, the dashboard and (when Slack is configured) "
        "the bridge, print their addresses once every process is ready, and stop them all on "
        "Ctrl-C, SIGTERM or SIGHUP. Settings come from the environment and .env; see "
        ".env.example.",
    )
    return parser.parse_args(argv)


def slack_line(plan: Plan, bridge: Readiness | None) -> str:
    if plan.bridge.slack is None:
        return "off (no Slack settings; handoffs show in the dashboard only)"
    mode = "Socket Mode" if plan.bridge.slack.socket_mode else "HTTP mode"
    if bridge is not None and bridge.ready:
        return f"on ({mode})"
    if bridge is not None and any(check == "slack" for check, _ in bridge.problems):
        return (
            f"NOT CONNECTED ({mode}): Slack cannot be reached or refuses the tokens; check that "
            "this machine reaches slack.com and the SLACK_* settings "
            "(`python -m slack_bridge check` says what is wrong); handoffs show in the "
            "dashboard meanwhile"
        )
    return f"not ready ({mode}; see above)"


def metrics_lines(plan: Plan) -> tuple[str, ...]:
    agent = f"{local_url(plan.agent.host, plan.agent.port)}/metrics (with the operator token)"
    if plan.bridge.slack is None:
        return (agent,)
    bridge = local_url(plan.bridge.metrics_host, plan.bridge.metrics_port)
    return (agent, f"{bridge}/metrics (the bridge)")


def system_line(manager: Manager, text: str) -> None:
    """A line in honcho's output, printed by its loop in order with the processes' lines."""
    now = datetime.datetime.now()
    manager.events.put(Message(type="line", data=text, time=now, name="system", colour=None))


class Output:
    """honcho's output stream; once the terminal is gone (EIO), lines are dropped.

    A failed write inside honcho's loop would end the loop before the processes are stopped,
    and Python's exit would then wait forever on honcho's readers of the still-running ones.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> None:
        if self._gone:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError:
            self._gone = True

    def flush(self) -> None:
        self.write("")

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except OSError:
            return False


def stop_on_hangup(manager: Manager) -> None:
    """SIGHUP (the terminal closed) stops every process, as Ctrl-C does."""
    launcher_pid = os.getpid()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != launcher_pid:
            return  # honcho's per-process readers inherit handlers; they must live to report
        manager.returncode = HANGUP_RETURN_CODE
        manager.terminate()

    signal.signal(signal.SIGHUP, on_hangup)


def kill_every_group(manager: Manager) -> None:
    """Last resort if honcho's loop fails: no process may outlive the launcher."""
    for process in manager._processes.values():  # honcho keeps the group leaders' pids here
        pid = process.get("pid")
        if pid is not None and process.get("returncode") is None:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    parse_args(argv)
    try:
        env = EnvReader()
        plan = preflight(env)
        token = resolve_operator_token(plan.agent.operator_token, plan.agent.home)
    except SettingsError as error:
        print(f"make run: configuration error: {error}", file=sys.stderr)
        return 2
    python = sys.executable
    customers = plan.agent.customers
    demo = (not env.has("CUSTOMER_DEMO") and customers.token_secret is None) or customers.demo
    child_env = child_environment(token, demo)
    colour = "NO_COLOR" not in os.environ  # honcho colours only on a terminal anyway
    manager = Manager(printer=Printer(Output(sys.stdout), colour=colour))
    manager.add_process("agent", f"{python} -m agent", env=child_env)
    manager.add_process("dashboard", f"{python} -m dashboard", env=child_env)
    if plan.slack_on:
        manager.add_process("bridge", f"{python} -m slack_bridge", env=child_env)
    names = ", ".join(plan.health_urls())
    print(f"make run: starting {names}; the addresses follow once every one answers", flush=True)
    chat_url = plan.agent.chat_url + (" (demo: sample customers to sign in as)" if demo else "")

    def print_block(status: Mapping[str, Readiness]) -> None:
        block = ready_block(
            status,
            chat_url,
            plan.bridge.dashboard_url,
            token.kept_in,
            slack_line(plan, status.get("bridge")),
            metrics_lines(plan),
        )
        system_line(manager, block)

    stopped = threading.Event()
    stop_on_hangup(manager)
    watch_readiness(
        plan.health_urls(),
        plan.ready_urls(),
        lambda url: read_readiness(url, token.value),
        print_block,
        stopped,
    )
    try:
        manager.loop()
    except BaseException:
        kill_every_group(manager)
        raise
    finally:
        stopped.set()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
