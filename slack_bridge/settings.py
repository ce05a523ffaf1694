"""The bridge process's settings: Slack's (shared with the agent) plus its own."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from config import EnvReader, SettingsError
from config.logs import LogFormat, read_log_format
from config.ports import Listener
from config.urls import dashboard_url, parlant_url
from handoff.sla import SlaSettings
from slack_kit.settings import SlackSettings

# libpq's two spellings of a PostgreSQL URL (as PARLANT_SESSION_STORE accepts).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_replica_id() -> str:
    """host-pid-random: unique per process, and readable in the leases table."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


# Discovery's production pace (BRIDGE_DISCOVERY_INTERVAL_SECONDS, BRIDGE_RESYNC_SECONDS; tests
# shorten them): a pass every 2 s. A session whose record did not change is looked at when its
# clocks change its SLA line or notices (discovery.py); the resync of every session, a safety
# net for state changed outside the record, comes every hour (spread over its second half).
DISCOVERY_INTERVAL_S = 2.0
UNCHANGED_RESYNC_S = 3600.0


@dataclass(frozen=True)
class BridgeSettings:
    slack: SlackSettings | None
    parlant_url: str
    dashboard_url: str
    state_path: Path
    operator_token: str | None = field(repr=False)
    log_level: str
    sla: SlaSettings
    # /metrics, /healthz and /readyz: operator data, so loopback unless chosen otherwise.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8819
    log_format: LogFormat = "text"
    # How long an operator reply waits after reaching the bridge, so that one written before
    # it in Slack but delivered a moment later still goes first (Slack's order).
    reply_settle_s: float = 0.7
    # postgresql://… puts the state in that database, shared by several bridge replicas;
    # None keeps it in the local SQLite file at state_path (one bridge process).
    state_url: str | None = field(default=None, repr=False)
    # Names this replica in the session leases; unique per process by default.
    replica_id: str = field(default_factory=default_replica_id)
    # How long a session's lease lasts unless renewed (renewed every third of it): a dead
    # replica's sessions are taken over within this plus one discovery pass.
    lease_s: float = 15.0
    # How often discovery lists the escalated sessions; how often a session whose record did not
    # change is synced again anyway (SLA lines and notices fall due without a change); how often
    # the outbox retries replies Parlant did not take. Defaults fit production; the tests
    # shorten them so that "nothing more happens" can be watched for a short bounded window.
    discovery_interval_s: float = DISCOVERY_INTERVAL_S
    resync_s: float = UNCHANGED_RESYNC_S
    outbox_retry_s: float = 2.0
    # The agent's draft of an answer under each customer message during a handoff, for the
    # operator to send, edit or dismiss (slack_bridge/drafts.py): a model call per message.
    drafts: bool = True

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The ports the bridge listens on when it runs (it does only with Slack configured)."""
        if self.slack is None:
            return ()
        ops = Listener(
            "the bridge's metrics and health",
            "BRIDGE_METRICS_PORT",
            self.metrics_host,
            self.metrics_port,
        )
        if self.slack.socket_mode:
            return (ops,)
        events = Listener(
            "the bridge's Slack events (HTTP mode)",
            "SLACK_BRIDGE_PORT",
            self.slack.bridge_host,
            self.slack.bridge_port,
        )
        return (events, ops)

    @classmethod
    def from_env(cls, env: EnvReader | None = None) -> BridgeSettings:
        env = env or EnvReader()
        return cls(
            slack=SlackSettings.from_env(env),
            parlant_url=parlant_url(env),
            dashboard_url=dashboard_url(env),
            state_path=env.path("BRIDGE_STATE_PATH", "./data/bridge/state.sqlite3"),
            operator_token=env.optional_str("PARLANT_OPERATOR_TOKEN"),
            log_level=env.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), default="info")
            or "info",
            sla=SlaSettings.from_env(env),
            metrics_host=env.string("BRIDGE_METRICS_HOST", "127.0.0.1"),
            metrics_port=env.port("BRIDGE_METRICS_PORT", 8819),
            log_format=read_log_format(env),
            reply_settle_s=env.positive_float("BRIDGE_REPLY_SETTLE_SECONDS", 0.7),
            state_url=_state_url(env),
            replica_id=env.string("BRIDGE_REPLICA_ID", default_replica_id()),
            lease_s=env.positive_float("BRIDGE_LEASE_SECONDS", 15.0),
            discovery_interval_s=env.positive_float(
                "BRIDGE_DISCOVERY_INTERVAL_SECONDS", DISCOVERY_INTERVAL_S
            ),
            resync_s=env.positive_float("BRIDGE_RESYNC_SECONDS", UNCHANGED_RESYNC_S),
            outbox_retry_s=env.positive_float("BRIDGE_OUTBOX_RETRY_SECONDS", 2.0),
            drafts=env.choice("BRIDGE_DRAFTS", ("on", "off"), default="on") == "on",
        )


def _state_url(env: EnvReader) -> str | None:
    url = env.optional_str("BRIDGE_STATE_URL")
    if url is not None and not url.startswith(POSTGRES_SCHEMES):
        raise SettingsError(
            "BRIDGE_STATE_URL must be a postgresql:// URL (or unset for the SQLite file "
            "BRIDGE_STATE_PATH), e.g. postgresql://bridge:secret@db.internal:5432/escalations"
        )
    return url
