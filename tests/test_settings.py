"""Bad settings stop the process at start with one line that says what to set."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from agent.settings import AgentSettings
from config import EnvReader, SettingsError, load_dotenv_file
from dashboard.settings import DashboardSettings
from handoff.sla import SlaSettings
from slack_bridge.settings import BridgeSettings
from slack_kit.masking import MASK_KINDS
from slack_kit.settings import SlackSettings
from tests.support import forks
from tests.support.agent_process import REPO_ROOT


def run_agent(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "DOTENV_PATH": str(tmp_path / "absent.env")}
    return forks.run("agent", env={**base, **env}, cwd=REPO_ROOT)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PARLANT_NLP": "gpt-banana"}, "PARLANT_NLP"),
        ({"PARLANT_PORT": "eighty"}, "PARLANT_PORT"),
        ({"PARLANT_NLP": "openai"}, "OPENAI_API_KEY"),
        ({"PARLANT_SESSION_STORE": "floppy"}, "PARLANT_SESSION_STORE"),
        ({"PARLANT_NPL": "offline"}, "PARLANT_NPL"),
        ({"PARLANT_OPERATOR_TOKEN": "short"}, "PARLANT_OPERATOR_TOKEN"),
        ({"SLACK_MASK": "card,ssn"}, "SLACK_MASK"),
        ({"CUSTOMER_TOKEN_SECRET": "too-short"}, "CUSTOMER_TOKEN_SECRET"),
        ({"CUSTOMER_TOKEN_PUBLIC_KEY_FILE": "/nonexistent.pem"}, "CUSTOMER_TOKEN_PUBLIC_KEY_FILE"),
        ({"CUSTOMER_MESSAGE_RATE": "lots"}, "CUSTOMER_MESSAGE_RATE"),
        ({"CUSTOMER_ALLOWED_ORIGINS": "insurer.example"}, "CUSTOMER_ALLOWED_ORIGINS"),
        ({"CUSTOMER_TRUSTED_PROXIES": "10.0.0.300"}, "CUSTOMER_TRUSTED_PROXIES"),
        ({"CUSTOMER_GUESTS": "maybe"}, "CUSTOMER_GUESTS"),
        ({"CUSTOMER_MAX_MESSAGE_CHARS": "0"}, "CUSTOMER_MAX_MESSAGE_CHARS"),
        ({"CUSTOMER_TOKN_SECRET": "x"}, "CUSTOMER_TOKN_SECRET"),
        ({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "litellm:4000"}, "OPENAI_BASE_URL"),
    ],
)
def test_bad_setting_exits_with_a_one_line_explanation(
    env: dict[str, str], names: str, tmp_path: Path
) -> None:
    result = run_agent(env, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0] and "set" in lines[0]


def test_unknown_key_in_dotenv_is_refused(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PARLANT_PORT=8800\nSLAK_BOT_TOKEN=xoxb-1\n")
    with pytest.raises(SettingsError, match="SLAK_BOT_TOKEN"):
        load_dotenv_file(dotenv)


def test_defaults_pick_offline_without_a_key_and_openai_with_one() -> None:
    offline = AgentSettings.from_env(EnvReader(environ={}, dotenv={}))
    assert (offline.nlp, offline.nlp_chosen_by_default) == ("offline", True)
    assert (offline.host, offline.port) == ("127.0.0.1", 8800)
    assert offline.home.name == "parlant" and offline.home.parent.name == "data"

    with_key = AgentSettings.from_env(EnvReader(environ={"OPENAI_API_KEY": "sk-x"}, dotenv={}))
    assert with_key.nlp == "openai"


def test_the_llm_services_own_variables_in_dotenv_are_kept_for_export() -> None:
    settings = AgentSettings.from_env(
        EnvReader(
            environ={},
            dotenv={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://gw:4000/v1/", "X": "y"},
        )
    )
    assert settings.openai_base_url == "http://gw:4000/v1"
    assert settings.provider_environment == {
        "OPENAI_API_KEY": "sk-x",
        "OPENAI_BASE_URL": "http://gw:4000/v1/",
    }
    assert "sk-x" not in repr(settings)


def test_explicit_real_service_is_never_swapped_for_offline() -> None:
    chosen = AgentSettings.from_env(
        EnvReader(environ={"PARLANT_NLP": "anthropic", "ANTHROPIC_API_KEY": "k"}, dotenv={})
    )
    assert chosen.nlp == "anthropic" and not chosen.nlp_chosen_by_default


def test_environment_wins_over_dotenv() -> None:
    settings = AgentSettings.from_env(
        EnvReader(environ={"PARLANT_PORT": "9001"}, dotenv={"PARLANT_PORT": "9002"})
    )
    assert settings.port == 9001


def test_settings_objects_never_show_secrets_in_their_repr() -> None:
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-secret-bot-token",
        "SLACK_APP_TOKEN": "xapp-secret-app-token",
        "SLACK_SIGNING_SECRET": "secret-signing-secret",
        "PARLANT_OPERATOR_TOKEN": "secret-operator-token-0123",
        "PARLANT_SESSION_STORE": "postgresql://agent:secret-db-password@db.internal/support",
        "BRIDGE_STATE_URL": "postgresql://bridge:secret-bridge-password@db.internal/support",
    }
    env = EnvReader({**secrets, "SLACK_ESCALATION_CHANNEL": "C0123ABCD"}, dotenv={})
    shown = repr(BridgeSettings.from_env(env)) + repr(AgentSettings.from_env(env))
    assert "C0123ABCD" in shown
    for value in secrets.values():
        assert value not in shown


@pytest.mark.parametrize(
    "url", ["postgresql://agent@db.internal:5432/support", "postgres://db.internal/support"]
)
def test_a_postgresql_url_selects_the_shared_store(url: str) -> None:
    settings = AgentSettings.from_env(EnvReader(environ={"PARLANT_SESSION_STORE": url}, dotenv={}))
    assert settings.session_store == url


def test_slack_mask_defaults_to_cards_and_dates_of_birth_and_names_the_valid_kinds() -> None:
    slack_on = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_ESCALATION_CHANNEL": "C0ESC",
        "SLACK_SIGNING_SECRET": "s",
    }

    def kinds(mask: str | None) -> frozenset[str]:
        environ = {**slack_on, **({"SLACK_MASK": mask} if mask is not None else {})}
        slack = BridgeSettings.from_env(EnvReader(environ=environ, dotenv={})).slack
        assert slack is not None
        return slack.masker.kinds

    assert kinds(None) == {"card", "dob"}
    assert kinds("none") == frozenset()
    assert kinds(" Policy , email,phone ") == {"policy", "email", "phone"}
    with pytest.raises(SettingsError) as refused:
        kinds("card,ssn")
    assert "SLACK_MASK" in str(refused.value) and "ssn" in str(refused.value)
    assert all(kind in str(refused.value) for kind in MASK_KINDS)


SLACK_BASE = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_APP_TOKEN": "xapp-1",
    "SLACK_ESCALATION_CHANNEL": "C0DEFAULT",
}


def slack_settings(routes: str) -> SlackSettings:
    settings = SlackSettings.from_env(
        EnvReader(environ={**SLACK_BASE, "SLACK_ROUTES": routes}, dotenv={})
    )
    assert settings is not None
    return settings


def test_routes_parse_into_ordered_typed_rules_with_the_default_channel() -> None:
    routes = slack_settings(
        " journey:File an Insurance Claim=C0CLAIMS; reason:claim=C0CLAIMS;label:vip=G0VIP ;"
    ).routes
    assert [(r.kind, r.value, r.channel) for r in routes.rules] == [
        ("journey", "File an Insurance Claim", "C0CLAIMS"),
        ("reason", "claim", "C0CLAIMS"),
        ("label", "vip", "G0VIP"),
    ]
    assert routes.channels == ("C0DEFAULT", "C0CLAIMS", "G0VIP")
    assert slack_settings("").routes.channels == ("C0DEFAULT",)


@pytest.mark.parametrize(
    ("routes", "named"),
    [
        ("reason:claim", "'reason:claim' is malformed"),
        ("claim=C0CLAIMS", "'claim=C0CLAIMS' is malformed"),
        ("topic:claim=C0CLAIMS", "'topic:claim=C0CLAIMS' is malformed"),
        ("reason:=C0CLAIMS", "'reason:=C0CLAIMS' is malformed"),
        ("reason:claim=#claims", "'#claims', which is not a channel id"),
        ("label:vip=U0SOMEONE", "'U0SOMEONE', which is not a channel id"),
    ],
)
def test_malformed_routes_stop_the_start_naming_the_rule(routes: str, named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        slack_settings(routes)
    message = str(raised.value)
    assert message.startswith("SLACK_ROUTES: ") and named in message
    assert "C0123ABCD" in message or "kind:value=CHANNEL_ID" in message


def test_a_malformed_route_stops_the_agent_with_one_line(tmp_path: Path) -> None:
    result = run_agent({**SLACK_BASE, "SLACK_ROUTES": "reason:claim=claims-channel"}, tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SLACK_ROUTES" in lines[0], result.stderr


# --- SLA settings -------------------------------------------------------------------------------

SLACK_ON = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_ESCALATION_CHANNEL": "C0123ABCD",
    "SLACK_APP_TOKEN": "xapp-1",
}


def test_sla_defaults_are_15_and_30_minutes_around_the_clock_in_utc() -> None:
    sla = SlaSettings.from_env(EnvReader(environ={}, dotenv={}))
    assert (sla.claim_target, sla.first_reply_target) == (
        timedelta(minutes=15),
        timedelta(minutes=30),
    )
    assert sla.hours.around_the_clock and str(sla.hours.zone) == "UTC"


def test_bridge_and_dashboard_read_the_same_sla_settings() -> None:
    env = {
        **SLACK_ON,
        "SLA_CLAIM_TARGET_MINUTES": "5",
        "SLA_FIRST_REPLY_TARGET_MINUTES": "12.5",
        "SLA_BUSINESS_HOURS": "Mon-Fri 09:00-17:00, Sat 10:00-14:00",
        "SLA_TIMEZONE": "Europe/Berlin",
        "SLACK_SUPERVISOR_CHANNEL": "C0456EFGH",
    }
    bridge = BridgeSettings.from_env(EnvReader(environ=env, dotenv={}))
    dashboard = DashboardSettings.from_env(EnvReader(environ=env, dotenv={}))
    assert bridge.sla == dashboard.sla
    assert bridge.sla.first_reply_target == timedelta(minutes=12.5)
    assert len(bridge.sla.hours.ranges) == 2
    assert bridge.slack is not None and bridge.slack.supervisor_channel == "C0456EFGH"


def test_no_supervisor_channel_means_no_breach_notices() -> None:
    bridge = BridgeSettings.from_env(EnvReader(environ=SLACK_ON, dotenv={}))
    assert bridge.slack is not None and bridge.slack.supervisor_channel is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SLA_CLAIM_TARGET_MINUTES": "soon"}, "SLA_CLAIM_TARGET_MINUTES"),
        ({"SLA_CLAIM_TARGET_MINUTES": "0"}, "SLA_CLAIM_TARGET_MINUTES"),
        ({"SLA_FIRST_REPLY_TARGET_MINUTES": "-5"}, "SLA_FIRST_REPLY_TARGET_MINUTES"),
        ({"SLA_BUSINESS_HOURS": "weekdays 9 to 5"}, "SLA_BUSINESS_HOURS"),
        ({"SLA_BUSINESS_HOURS": "Mon-Fri 17:00-09:00"}, "SLA_BUSINESS_HOURS"),
        ({"SLA_TIMEZONE": "Mars/Olympus_Mons"}, "SLA_TIMEZONE"),
        ({"SLA_TIMEZONE": "../etc/passwd"}, "SLA_TIMEZONE"),
        ({**SLACK_ON, "SLACK_SUPERVISOR_CHANNEL": "#supervisors"}, "SLACK_SUPERVISOR_CHANNEL"),
        ({"SLA_CLAIM_TARGET": "5"}, "SLA_CLAIM_TARGET"),
    ],
)
def test_bad_sla_settings_name_the_setting_and_what_to_set(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name) as raised:
        BridgeSettings.from_env(EnvReader(environ=env, dotenv={}))
    assert "set" in str(raised.value) or "use" in str(raised.value) or "split" in str(raised.value)


def test_the_bridge_state_is_the_sqlite_file_unless_a_postgresql_url_is_set() -> None:
    default = BridgeSettings.from_env(EnvReader(environ=SLACK_ON, dotenv={}))
    assert default.state_url is None and default.lease_s == 15.0
    other = BridgeSettings.from_env(EnvReader(environ=SLACK_ON, dotenv={}))
    assert default.replica_id != other.replica_id  # unique per process and start
    shared = BridgeSettings.from_env(
        EnvReader(
            environ={
                **SLACK_ON,
                "BRIDGE_STATE_URL": "postgresql://bridge@db.internal/support",
                "BRIDGE_REPLICA_ID": "bridge-a",
                "BRIDGE_LEASE_SECONDS": "4.5",
            },
            dotenv={},
        )
    )
    assert shared.state_url == "postgresql://bridge@db.internal/support"
    assert (shared.replica_id, shared.lease_s) == ("bridge-a", 4.5)
    for bad in ("sqlite:///tmp/x", "mysql://db/x"):
        with pytest.raises(SettingsError, match="BRIDGE_STATE_URL must be a postgresql://"):
            BridgeSettings.from_env(
                EnvReader(environ={**SLACK_ON, "BRIDGE_STATE_URL": bad}, dotenv={})
            )


def test_a_bridge_whose_state_database_cannot_be_used_stops_with_one_line(
    tmp_path: Path,
) -> None:
    from tests.support.agent_process import free_port

    port = free_port()  # nothing listens there
    result = forks.run(
        "slack_bridge",
        env={
            "PATH": "/usr/bin:/bin",
            "DOTENV_PATH": str(tmp_path / "absent.env"),
            **SLACK_ON,
            "BRIDGE_METRICS_PORT": str(free_port()),
            "BRIDGE_STATE_URL": f"postgresql://bridge:hunter2-secret@127.0.0.1:{port}/escalations",
        },
        cwd=REPO_ROOT,
    )
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert (
        f"BRIDGE_STATE_URL: cannot use PostgreSQL at 127.0.0.1:{port}/escalations as bridge"
        in (lines[0])
    )
    assert "hunter2" not in result.stderr


def test_the_bridge_refuses_to_start_on_a_bad_sla_setting(tmp_path: Path) -> None:
    result = forks.run(
        "slack_bridge",
        env={
            "PATH": "/usr/bin:/bin",
            "DOTENV_PATH": str(tmp_path / "absent.env"),
            **SLACK_ON,
            "SLA_TIMEZONE": "Nowhere/Special",
        },
        cwd=REPO_ROOT,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SLA_TIMEZONE" in lines[0], result.stderr


def test_every_setting_is_documented_in_the_env_example_and_the_settings_page() -> None:
    from config.env import KNOWN_SETTINGS

    root = Path(__file__).resolve().parents[1]
    example = (root / ".env.example").read_text()
    readme = (root / "docs" / "settings.md").read_text()
    undocumented_example = sorted(s for s in KNOWN_SETTINGS if f"\n{s}=" not in example)
    undocumented_readme = sorted(s for s in KNOWN_SETTINGS if f"`{s}`" not in readme)
    assert undocumented_example == []
    assert undocumented_readme == []


# --- AI turn bounds -----------------------------------------------------------------------------


def test_ai_turns_are_bounded_by_default_and_by_setting() -> None:
    default = AgentSettings.from_env(EnvReader(environ={}, dotenv={}))
    assert (default.ai_turn_timeout_seconds, default.ai_turn_max_model_calls) == (60.0, 40)
    env = {"AI_TURN_TIMEOUT_SECONDS": "12.5", "AI_TURN_MAX_MODEL_CALLS": "20"}
    chosen = AgentSettings.from_env(EnvReader(environ=env, dotenv={}))
    assert (chosen.ai_turn_timeout_seconds, chosen.ai_turn_max_model_calls) == (12.5, 20)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AI_TURN_TIMEOUT_SECONDS", "0"),
        ("AI_TURN_TIMEOUT_SECONDS", "soon"),
        ("AI_TURN_MAX_MODEL_CALLS", "0"),
        ("AI_TURN_MAX_MODEL_CALLS", "2.5"),
    ],
)
def test_bad_ai_turn_bounds_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as raised:
        AgentSettings.from_env(EnvReader(environ={name: value}, dotenv={}))
    assert "set" in str(raised.value)


def test_a_count_below_one_is_said_to_be_below_one_not_not_a_whole_number() -> None:
    env = EnvReader(environ={"AI_TURN_MAX_MODEL_CALLS": "0"}, dotenv={})
    with pytest.raises(SettingsError, match=r"^AI_TURN_MAX_MODEL_CALLS='0' is below 1; set 1 or"):
        env.positive_int("AI_TURN_MAX_MODEL_CALLS", 40)
    env = EnvReader(environ={"AI_TURN_MAX_MODEL_CALLS": "-3"}, dotenv={})
    with pytest.raises(SettingsError, match="is not a whole number"):
        env.positive_int("AI_TURN_MAX_MODEL_CALLS", 40)
