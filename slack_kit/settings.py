"""The Slack settings, shared by the bridge process and the agent's handoff tool."""

from __future__ import annotations

from dataclasses import dataclass, field

from config import EnvReader, SettingsError
from slack_kit.backlog import BEHIND_AFTER_S
from slack_kit.masking import Masker
from slack_kit.routing import Routes, RoutesError, parse_routes

SLACK_DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    escalation_channel: str
    api_url: str
    app_token: str | None = field(repr=False)
    signing_secret: str | None = field(repr=False)
    bridge_host: str
    bridge_port: int
    operator_ids: tuple[str, ...]
    posts_per_second: float
    masker: Masker
    routes: Routes
    # Where SLA breach notices go; None: no notices, the thread reminder still happens.
    supervisor_channel: str | None = None
    # Where new escalations go while their channel is behind (slack_kit/backlog.py).
    overflow_channel: str | None = None
    # A channel is behind once a customer message has waited this long to be posted there.
    behind_after_s: float = BEHIND_AFTER_S

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @classmethod
    def from_env(cls, env: EnvReader) -> SlackSettings | None:
        """None when Slack is not configured at all; an error when it is half configured."""
        names = (
            "SLACK_BOT_TOKEN",
            "SLACK_ESCALATION_CHANNEL",
            "SLACK_APP_TOKEN",
            "SLACK_SIGNING_SECRET",
        )
        # Checked even with Slack off, so a typo cannot wait to surface until Slack is turned on.
        masker = _masker(env)
        if not any(env.has(n) for n in names):
            return None
        bot_token = env.string(
            "SLACK_BOT_TOKEN", hint="set the bot token (xoxb-...) from the Slack app's OAuth page"
        )
        if not bot_token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        channel = env.string(
            "SLACK_ESCALATION_CHANNEL",
            hint="set the escalation channel's id (C0123ABCD; channel details → About)",
        )
        if not _is_channel_id(channel):
            raise SettingsError(
                f"SLACK_ESCALATION_CHANNEL={channel!r} is not a channel id; set one like C0123ABCD"
            )
        app_token = env.optional_str("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        signing_secret = env.optional_str("SLACK_SIGNING_SECRET")
        if app_token is None and signing_secret is None:
            raise SettingsError(
                "set SLACK_APP_TOKEN (Socket Mode, recommended) or SLACK_SIGNING_SECRET (HTTP mode)"
            )
        api_url = env.url("SLACK_API_URL", SLACK_DEFAULT_API_URL) + "/"
        try:
            routes = parse_routes(env.string("SLACK_ROUTES", ""), default=channel)
        except RoutesError as error:
            raise SettingsError(f"SLACK_ROUTES: {error}") from error
        supervisor_channel = env.optional_str("SLACK_SUPERVISOR_CHANNEL")
        if supervisor_channel is not None and not _is_channel_id(supervisor_channel):
            raise SettingsError(
                f"SLACK_SUPERVISOR_CHANNEL={supervisor_channel!r} is not a channel id; "
                "set one like C0456EFGH, or leave it empty for no breach notices"
            )
        overflow_channel = env.optional_str("SLACK_OVERFLOW_CHANNEL")
        if overflow_channel is not None and not _is_channel_id(overflow_channel):
            raise SettingsError(
                f"SLACK_OVERFLOW_CHANNEL={overflow_channel!r} is not a channel id; "
                "set one like C0789IJKL, or leave it empty to keep escalations in their channel"
            )
        return cls(
            bot_token=bot_token,
            escalation_channel=channel,
            api_url=api_url,
            app_token=app_token,
            signing_secret=signing_secret,
            bridge_host=env.string("SLACK_BRIDGE_HOST", "127.0.0.1"),
            bridge_port=env.port("SLACK_BRIDGE_PORT", 3000),
            operator_ids=env.id_list("SLACK_OPERATOR_IDS"),
            posts_per_second=env.positive_float("SLACK_POSTS_PER_SECOND", 1.0),
            masker=masker,
            routes=routes,
            supervisor_channel=supervisor_channel,
            overflow_channel=overflow_channel,
            behind_after_s=env.positive_float("SLACK_BEHIND_AFTER_SECONDS", BEHIND_AFTER_S),
        )


def _masker(env: EnvReader) -> Masker:
    raw = env.optional_str("SLACK_MASK")
    try:
        return Masker.from_setting(raw)
    except ValueError as error:
        raise SettingsError(f"SLACK_MASK={raw!r}: {error}") from None


def _is_channel_id(value: str) -> bool:
    return value[:1] in ("C", "G") and value.isalnum()
