"""Start the agent, the dashboard and (when Slack is configured) the bridge as one command.

honcho prefixes each process's output with its name and stops them all when one exits or on
Ctrl-C, so the product behaves like a single program. Every process gets the same operator
token (launcher/operator_token.py), so Parlant's operator calls are closed to everyone else.
"""

from __future__ import annotations

import os
import sys

from honcho.manager import Manager
from honcho.printer import Printer

from config import EnvReader, SettingsError
from launcher.operator_token import OperatorToken, resolve_operator_token


def child_environment(token: OperatorToken, demo_customers: bool) -> dict[str, str]:
    environment = {**os.environ, "PARLANT_OPERATOR_TOKEN": token.value}
    if demo_customers:
        # The embedded defaults have no insurer to sign customers in: /support offers the
        # sample customers, each signed in with a real token the agent mints for the demo.
        environment["CUSTOMER_DEMO"] = "on"
    return environment


def main() -> int:
    try:
        from agent.settings import AgentSettings
        from slack_bridge.settings import BridgeSettings

        env = EnvReader()
        agent = AgentSettings.from_env(env)
        bridge = BridgeSettings.from_env(env)
        token = resolve_operator_token(agent.operator_token, agent.home)
    except SettingsError as error:
        print(f"make run: configuration error: {error}", file=sys.stderr)
        return 2
    python = sys.executable
    demo = not env.has("CUSTOMER_DEMO") and agent.customers.token_secret is None
    child_env = child_environment(token, demo or agent.customers.demo)
    manager = Manager(printer=Printer(sys.stdout))
    manager.add_process("agent", f"{python} -m agent", env=child_env)
    manager.add_process("dashboard", f"{python} -m dashboard", env=child_env)
    if bridge.slack is not None:
        manager.add_process("bridge", f"{python} -m slack_bridge", env=child_env)
        slack_line = (
            f"Slack bridge: on ({'Socket Mode' if bridge.slack.socket_mode else 'HTTP mode'})"
        )
    else:
        slack_line = "Slack bridge: off (no Slack settings; handoffs show in the dashboard only)"
    print(
        f"customer chat:  {agent.chat_url}"
        f"{' (demo: sample customers to sign in as)' if demo or agent.customers.demo else ''}\n"
        f"dashboard:      {bridge.dashboard_url}\n"
        f"{slack_line}\n"
        f"operator token: in {token.kept_in}; Parlant's API refuses operator calls without it\n",
        flush=True,
    )
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
