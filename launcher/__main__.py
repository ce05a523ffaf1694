"""Start the agent, the dashboard and (when Slack is configured) the bridge as one command.

honcho prefixes each process's output with its name and stops them all when one exits or on
Ctrl-C, so the product behaves like a single program.
"""

from __future__ import annotations

import sys

from honcho.manager import Manager
from honcho.printer import Printer

from config import EnvReader, SettingsError


def main() -> int:
    try:
        from agent.settings import AgentSettings
        from slack_bridge.settings import BridgeSettings

        env = EnvReader()
        agent = AgentSettings.from_env(env)
        bridge = BridgeSettings.from_env(env)
    except SettingsError as error:
        print(f"make run: configuration error: {error}", file=sys.stderr)
        return 2
    python = sys.executable
    manager = Manager(printer=Printer(sys.stdout))
    manager.add_process("agent", f"{python} -m agent")
    manager.add_process("dashboard", f"{python} -m dashboard")
    if bridge.slack is not None:
        manager.add_process("bridge", f"{python} -m slack_bridge")
        slack_line = f"Slack bridge: on ({'Socket Mode' if bridge.slack.socket_mode else 'HTTP mode'})"
    else:
        slack_line = "Slack bridge: off (no Slack settings; handoffs show in the dashboard only)"
    print(
        f"customer chat: {agent.chat_url}\n"
        f"dashboard:     {bridge.dashboard_url}\n"
        f"{slack_line}\n",
        flush=True,
    )
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
