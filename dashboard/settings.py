"""The dashboard's settings, read from the environment and `.env` (process env wins)."""

from __future__ import annotations

from dataclasses import dataclass, field

from config import EnvReader
from config.logs import LogFormat, read_log_format
from config.ports import Listener
from config.urls import dashboard_url, parlant_url
from handoff.sla import SlaSettings

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class DashboardSettings:
    parlant_url: str
    port: int
    public_url: str
    log_level: str = "info"
    log_format: LogFormat = "text"
    sla: SlaSettings = field(default_factory=SlaSettings.around_the_clock_defaults)
    # Secrets stay out of repr so a logged or displayed settings object never shows them.
    password: str | None = field(default=None, repr=False)
    operator_token: str | None = field(default=None, repr=False)

    @property
    def listener(self) -> Listener:
        return Listener("the dashboard", "DASHBOARD_PORT", "127.0.0.1", self.port)

    def session_page_url(self, session_id: str) -> str:
        return f"{self.public_url}/session?session={session_id}"

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> DashboardSettings:
        env = env or EnvReader()
        return cls(
            parlant_url=parlant_url(env),
            port=env.port("DASHBOARD_PORT", 8501),
            public_url=dashboard_url(env),
            sla=SlaSettings.from_env(env),
            log_level=env.choice("LOG_LEVEL", LOG_LEVELS, default="info") or "info",
            log_format=read_log_format(env),
            password=env.optional_str("DASHBOARD_PASSWORD"),
            operator_token=env.optional_str("PARLANT_OPERATOR_TOKEN"),
        )
