"""The deployment recipes in deploy/ (docs/deploy.md): checked by the tools that will read them.

- The systemd units pass `systemd-analyze verify` with nothing to say, in a temporary root
  holding the units, systemd's own unit files and a stub where the units expect the virtualenv's
  python (/opt/escalations does not exist on a test machine).
- Every setting the units and the environment file set is one the processes read.
- deploy/haproxy/haproxy.cfg passes `haproxy -c` as shipped (only its certificate path pointed
  at a throwaway self-signed certificate), and, run with its addresses moved to free ports, it
  carries HTTPS to a real agent (token and all) and a real dashboard, the dashboard's websocket
  included, redirects plain HTTP and refuses other host names.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config.env import KNOWN_SETTINGS, load_dotenv_file
from tests.support.agent_process import REPO_ROOT, AgentProcess, free_port
from tests.support.dashboard_process import running_dashboard
from tests.support.haproxy import haproxy_binary

DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
HAPROXY_CFG = DEPLOY / "haproxy" / "haproxy.cfg"
ENV_FILE = DEPLOY / "escalations.env"
SYSTEMD_UNITS = Path("/usr/lib/systemd/system")
CHAT_HOST = "chat.example.com"
DASHBOARD_HOST = "dashboard.example.com"
TOKEN = secrets.token_urlsafe(32)


def unit_values(unit: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


# -- systemd -------------------------------------------------------------------------------------


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None or not SYSTEMD_UNITS.is_dir():
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    root = tmp_path / "root"
    # Its own unit files, for the targets the units order themselves after (copied: a link to
    # the directory makes systemd resolve the links inside it outside the root).
    shutil.copytree(SYSTEMD_UNITS, root / SYSTEMD_UNITS.relative_to("/"), symlinks=True)
    installed = root / "etc" / "systemd" / "system"
    installed.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, installed / unit.name)
        for command in unit_values(unit, "ExecStart"):
            stub = root / command.split()[0].lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", *(unit.name for unit in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Unknown keys and unparsable values are only warnings to systemd: any output fails.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_units_run_the_entry_points_with_the_shipped_hardening() -> None:
    services = {u.name: u for u in UNITS if u.suffix == ".service"}
    modules = {
        name: unit_values(unit, "ExecStart")[0].split()[-1] for name, unit in services.items()
    }
    assert modules == {
        "escalations-agent.service": "agent",
        "escalations-bridge.service": "slack_bridge",
        "escalations-dashboard.service": "dashboard",
    }
    for unit in services.values():
        for key, value in (
            ("DynamicUser", "yes"),
            ("ProtectSystem", "strict"),
            ("PrivateTmp", "yes"),
            ("NoNewPrivileges", "yes"),
            ("Restart", "on-failure"),
            ("RestartPreventExitStatus", "2"),  # a configuration error: restarting cannot help
            ("EnvironmentFile", "/etc/escalations/escalations.env"),
        ):
            assert unit_values(unit, key) == [value], (unit.name, key)


def test_units_and_environment_file_set_only_settings_the_processes_read() -> None:
    for unit in UNITS:
        for assignment in unit_values(unit, "Environment"):
            assert assignment.split("=", 1)[0] in KNOWN_SETTINGS | {"HOME"}, (unit.name, assignment)
    # The processes' own reader, which stops at an unknown name.
    values = load_dotenv_file(ENV_FILE)
    # The units set these in their state directories; the file would override them.
    assert not {"PARLANT_HOME", "BRIDGE_STATE_PATH"} & set(values)


def test_state_directories_are_where_the_units_point_the_settings() -> None:
    for unit, setting in (
        ("escalations-agent.service", "PARLANT_HOME"),
        # Written by the agent at every accepted proposal: /opt is read-only to the unit.
        ("escalations-agent.service", "AGENT_LEARNED_FILE"),
        ("escalations-bridge.service", "BRIDGE_STATE_PATH"),
    ):
        path = DEPLOY / "systemd" / unit
        (state,) = unit_values(path, "StateDirectory")
        (assignment,) = (a for a in unit_values(path, "Environment") if a.startswith(setting))
        value = Path(assignment.split("=", 1)[1])
        assert Path("/var/lib") / state in (value, value.parent), (unit, value)


# -- HAProxy -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def haproxy() -> Path:
    binary = haproxy_binary()
    if binary is None:
        pytest.skip("haproxy is not installed (scripts/ensure_haproxy.sh installs it)")
    return binary


@dataclass(frozen=True)
class Certificate:
    pem: Path  # certificate and key, as HAProxy takes them
    ca: Path  # the certificate alone, for clients to trust


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """Self-signed, for both names and 127.0.0.1 (the test connects by address)."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CHAT_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(CHAT_HOST),
                    x509.DNSName(DASHBOARD_HOST),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ca = directory / "ca.pem"
    ca.write_bytes(cert_pem)
    pem = directory / "escalations.pem"
    pem.write_bytes(cert_pem + key_pem)
    return Certificate(pem=pem, ca=ca)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in deploy/haproxy/haproxy.cfg exactly once"
    return text.replace(old, new)


def with_certificate(config: str, pem: Path) -> str:
    return replace_once(config, "crt /etc/haproxy/certs/escalations.pem", f"crt {pem}")


def haproxy_check(binary: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_haproxy_configuration_passes_haproxy_c(
    haproxy: Path, certificate: Certificate, tmp_path: Path
) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(with_certificate(HAPROXY_CFG.read_text(), certificate.pem))
    check = haproxy_check(haproxy, config)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ALERT" not in check.stdout + check.stderr


@pytest.fixture(scope="module")
def deployed_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """With an operator token, as the environment file requires."""
    home = tmp_path_factory.mktemp("deploy") / "parlant"
    env = {"PARLANT_OPERATOR_TOKEN": TOKEN, "CUSTOMER_TRUSTED_PROXIES": "127.0.0.1"}
    process = AgentProcess(home=home, extra_env=env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def deployed_dashboard(
    deployed_agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    env = {"PARLANT_OPERATOR_TOKEN": TOKEN, "DASHBOARD_URL": f"https://{DASHBOARD_HOST}"}
    directory = tmp_path_factory.mktemp("deploy-dashboard")
    with running_dashboard(deployed_agent.url, directory, env, health="/healthz") as running:
        yield running.port


@dataclass(frozen=True)
class Proxy:
    https_port: int
    http_port: int
    ca: Path
    log: Path

    def get(self, host: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        with httpx.Client(verify=ssl.create_default_context(cafile=self.ca)) as client:
            return client.get(
                f"https://127.0.0.1:{self.https_port}{path}",
                headers={"Host": host, **(headers or {})},
                timeout=10,
            )


@pytest.fixture(scope="module")
def proxy(
    haproxy: Path,
    certificate: Certificate,
    deployed_agent: AgentProcess,
    deployed_dashboard: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """deploy/haproxy/haproxy.cfg with its addresses on free ports of 127.0.0.1, run as this
    user (no chroot or user switch: those need root and a Debian package's directories)."""
    directory = tmp_path_factory.mktemp("deploy-haproxy")
    https_port, http_port = free_port(), free_port()
    config = with_certificate(HAPROXY_CFG.read_text(), certificate.pem)
    for old, new in (
        ("bind :443 ", f"bind 127.0.0.1:{https_port} "),
        ("bind :80\n", f"bind 127.0.0.1:{http_port}\n"),
        ("server agent 127.0.0.1:8800 ", f"server agent 127.0.0.1:{deployed_agent.port} "),
        (
            "server agent-unchecked 127.0.0.1:8800 ",
            f"server agent-unchecked 127.0.0.1:{deployed_agent.port} ",
        ),
        ("server dashboard 127.0.0.1:8501 ", f"server dashboard 127.0.0.1:{deployed_dashboard} "),
        (
            "server dashboard-unchecked 127.0.0.1:8501 ",
            f"server dashboard-unchecked 127.0.0.1:{deployed_dashboard} ",
        ),
        ("stats socket /run/haproxy/admin.sock ", f"stats socket {directory / 'admin.sock'} "),
        ("    chroot /var/lib/haproxy\n", ""),
        ("    user haproxy\n", ""),
        ("    group haproxy\n", ""),
        ("    log /dev/log local0\n", ""),
    ):
        config = replace_once(config, old, new)
    config_path = directory / "haproxy.cfg"
    config_path.write_text(config)
    check = haproxy_check(haproxy, config_path)
    assert check.returncode == 0, check.stdout + check.stderr
    log_path = directory / "haproxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(haproxy), "-W", "-db", "-f", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    proxy = Proxy(https_port=https_port, http_port=http_port, ca=certificate.ca, log=log_path)
    try:
        deadline = time.monotonic() + 30
        # Up once HAProxy's checks have found both backends.
        while not (answers(proxy, CHAT_HOST, "/healthz") and answers(proxy, DASHBOARD_HOST, "/")):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, (
                f"not served through HAProxy:\n{log_path.read_text()}"
            )
            time.sleep(0.3)
        yield proxy
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def answers(proxy: Proxy, host: str, path: str) -> bool:
    try:
        return proxy.get(host, path).status_code == 200
    except httpx.HTTPError:
        return False


def test_https_reaches_the_agent_with_its_operator_token(proxy: Proxy) -> None:
    chat = proxy.get(CHAT_HOST, "/support")
    assert chat.status_code == 200 and "<html" in chat.text.lower()
    # The operator API through the proxy: closed without the token, open with it.
    assert proxy.get(CHAT_HOST, "/sessions").status_code == 403
    listing = proxy.get(CHAT_HOST, "/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert listing.status_code == 200
    assert "max-age" in listing.headers["strict-transport-security"]


def test_https_reaches_the_dashboard_and_its_websocket(proxy: Proxy) -> None:
    page = proxy.get(DASHBOARD_HOST, "/")
    assert page.status_code == 200 and "streamlit" in page.text.lower()
    assert proxy.get(DASHBOARD_HOST, "/readyz").json()["ready"] is True
    # Streamlit's page talks to its server over this websocket only.
    context = ssl.create_default_context(cafile=proxy.ca)
    with (
        socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        conn.sendall(
            (
                "GET /_stcore/stream HTTP/1.1\r\n"
                f"Host: {DASHBOARD_HOST}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
            ).encode()
        )
        answer = conn.recv(4096).decode(errors="replace")
    status_line = answer.split("\r\n", 1)[0]
    assert re.fullmatch(r"HTTP/1\.1 101 .*", status_line), f"{answer}\n{proxy.log.read_text()}"


def test_plain_http_is_sent_to_https_and_other_names_get_nothing(proxy: Proxy) -> None:
    plain = httpx.get(
        f"http://127.0.0.1:{proxy.http_port}/support", headers={"Host": CHAT_HOST}, timeout=10
    )
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://{CHAT_HOST}/support"
    assert proxy.get("somewhere.else.example", "/support").status_code == 404
