"""The dashboard's settings, read from the environment and `.env` (process env wins)."""

from __future__ import annotations

from dataclasses import dataclass, field

from config import EnvReader, SettingsError
from config.exposure import check_exposure
from config.logs import LogFormat, read_log_format
from config.ports import Listener
from config.urls import dashboard_url, parlant_url
from dashboard.signin import MIN_PASSWORD_CHARS
from handoff.sla import SlaSettings

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class DashboardSettings:
    parlant_url: str
    port: int
    public_url: str
    host: str = "127.0.0.1"
    log_level: str = "info"
    log_format: LogFormat = "text"
    # How long a password sign-in lasts (every tab, Slack deep links included).
    sign_in_hours: int = 12
    sla: SlaSettings = field(default_factory=SlaSettings.around_the_clock_defaults)
    # Secrets stay out of repr so a logged or displayed settings object never shows them.
    password: str | None = field(default=None, repr=False)
    operator_token: str | None = field(default=None, repr=False)
    # DASHBOARD_OPEN_WITHOUT_PASSWORD=on: a non-loopback DASHBOARD_HOST without the password
    # (OIDC sign-in, or a proxy that signs people in).
    open_without_password: bool = False

    def check_exposure(self) -> None:
        """Stops a start that would show every transcript to the network (config/exposure.py)."""
        check_exposure(
            host_setting="DASHBOARD_HOST",
            host=self.host,
            protected=self.password is not None or self.open_without_password,
            protection="DASHBOARD_PASSWORD",
            override_setting="DASHBOARD_OPEN_WITHOUT_PASSWORD",
        )

    @property
    def listener(self) -> Listener:
        return Listener("the dashboard", "DASHBOARD_PORT", self.host, self.port)

    def session_page_url(self, session_id: str) -> str:
        return f"{self.public_url}/session?session={session_id}"

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> DashboardSettings:
        env = env or EnvReader()
        password = env.optional_str("DASHBOARD_PASSWORD")
        if password is not None and len(password) < MIN_PASSWORD_CHARS:
            raise SettingsError(
                f"DASHBOARD_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters "
                "(a passphrase of a few words is easiest)"
            )
        hours = env.positive_float("DASHBOARD_SIGN_IN_HOURS", 12)
        return cls(
            parlant_url=parlant_url(env),
            port=env.port("DASHBOARD_PORT", 8501),
            host=env.string("DASHBOARD_HOST", "127.0.0.1"),
            sign_in_hours=max(1, round(hours)),
            public_url=dashboard_url(env),
            sla=SlaSettings.from_env(env),
            log_level=env.choice("LOG_LEVEL", LOG_LEVELS, default="info") or "info",
            log_format=read_log_format(env),
            password=password,
            operator_token=env.optional_str("PARLANT_OPERATOR_TOKEN"),
            open_without_password=env.choice(
                "DASHBOARD_OPEN_WITHOUT_PASSWORD", ("on", "off"), "off"
            )
            == "on",
        )
