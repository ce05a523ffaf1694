"""Everything `make run` checks before it starts a process, so a mistake stops it in one line.

Every process's settings are read here first (DASHBOARD_PORT=abc used to surface only after
the agent had started), the agent's home must be writable, and every port the processes will
listen on must be free and distinct.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.settings import AgentSettings
from config import EnvReader
from config.home import ensure_writable_dir, ensure_writable_file_dir
from config.ports import Listener, check_listeners
from config.private_files import restrict_new_files
from config.urls import local_url
from dashboard.settings import DashboardSettings
from slack_bridge.settings import BridgeSettings


@dataclass(frozen=True)
class Plan:
    agent: AgentSettings
    bridge: BridgeSettings
    dashboard: DashboardSettings

    @property
    def slack_on(self) -> bool:
        return self.bridge.slack is not None

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return (*self.agent.listeners, self.dashboard.listener, *self.bridge.listeners)

    def ready_urls(self) -> dict[str, str]:
        """Each process's /readyz: what it needs answers (the agent's names its checks to the
        operator token)."""
        urls = {
            "agent": f"{local_url(self.agent.host, self.agent.port)}/readyz",
            "dashboard": f"{local_url('127.0.0.1', self.dashboard.port)}/readyz",
        }
        if self.slack_on:
            bridge = local_url(self.bridge.metrics_host, self.bridge.metrics_port)
            urls["bridge"] = f"{bridge}/readyz"
        return urls

    def health_urls(self) -> dict[str, str]:
        """What answers once each process is up, on the addresses this machine reaches."""
        urls = {
            "agent": f"{local_url(self.agent.host, self.agent.port)}/healthz",
            "dashboard": f"{local_url('127.0.0.1', self.dashboard.port)}/_stcore/health",
        }
        if self.slack_on:
            bridge = local_url(self.bridge.metrics_host, self.bridge.metrics_port)
            urls["bridge"] = f"{bridge}/healthz"
        return urls


def preflight(env: EnvReader | None = None) -> Plan:
    """Raises SettingsError naming the first setting to change."""
    env = env or EnvReader()
    plan = Plan(
        agent=AgentSettings.from_env(env),
        bridge=BridgeSettings.from_env(env),
        dashboard=DashboardSettings.from_env(env),
    )
    # The agent checks its own bind when it starts: the launcher gives it the operator token
    # (generated once if none is set) after this.
    plan.dashboard.check_exposure()
    restrict_new_files()  # the token file and the home are the owner's only
    ensure_writable_dir(plan.agent.home, "PARLANT_HOME", private=True)
    if plan.slack_on and plan.bridge.state_url is None:
        ensure_writable_file_dir(plan.bridge.state_path, "BRIDGE_STATE_PATH")
    check_listeners(plan.listeners)
    return plan
