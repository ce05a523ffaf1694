"""HAProxy in front of replicas, for tests and benches: Debian's binary, a generated configuration.

`LoadBalancer(backends).start()` writes a configuration into a temporary directory, runs
`haproxy -W` (master-worker, in the foreground as our child) on a free port on 127.0.0.1 and waits
until every backend is up by its health check. `stop()` ends it with SIGTERM (a hard stop: a
soft one, SIGUSR1, waited out the customers' open long polls, 10 s at the end of a module).
No service: scripts/ensure_haproxy.sh installs the package.

The configuration (`haproxy_config`, also printed in docs/replicas.md) is the one we recommend:

- health checks on the agent's /readyz (the session store, claims store and Slack answer), every
  500 ms, down after 2 failures: a killed replica leaves the rotation within about a second, a
  hung one within about 5 s (2 s to answer each check);
- `option redispatch` and `retries`: a request whose connection to a dead replica fails is sent
  to another one;
- `retry-on conn-failure empty-response` for GETs only: a long poll cut by a replica's death is
  re-sent to the survivor, so the customer never sees it; a POST (a message) is never re-sent
  once it reached a replica (it may have been written), the client decides;
- `timeout server` above the longest long poll (Parlant's wait_for_data, at most 60 s here);
- each replica also as an unchecked `backup`, used only while every checked one is down, so a
  last replica whose checks are slow under load is still sent to rather than HAProxy answering
  503.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.agent_process import free_port

START_TIMEOUT_S = 30
# The name of each replica's unchecked backup server: the replica's name and this.
BACKUP_SUFFIX = "-unchecked"
LONGEST_POLL_S = 60


def haproxy_binary() -> Path | None:
    """Debian installs it in /usr/sbin, which is not on every user's PATH."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


@dataclass(frozen=True)
class Backend:
    name: str
    port: int
    host: str = "127.0.0.1"


def haproxy_config(
    bind: str,
    backends: Sequence[Backend],
    stats_socket: Path,
    health_path: str = "/readyz",
    name: str = "agents",
    log_target: str = "stdout format raw local0",
) -> str:
    """The whole configuration: one frontend on `bind` (host:port), one backend of `backends`,
    each checked on `health_path`; the request log to `log_target` (here HAProxy's standard
    output, which the tests keep in a file; docs/replicas.md shows syslog's /dev/log)."""
    servers = "\n".join(f"    server {b.name} {b.host}:{b.port} check" for b in backends)
    backups = "\n".join(
        f"    server {b.name}{BACKUP_SUFFIX} {b.host}:{b.port} backup" for b in backends
    )
    return f"""\
global
    maxconn 4096
    stats socket {stats_socket} mode 600 level admin
    log {log_target}

defaults
    mode http
    # One line per request (`option httplog`), sent where `log` in global says.
    log global
    option httplog
    timeout connect 1s
    # Above the longest long poll (wait_for_data <= {LONGEST_POLL_S} s), or HAProxy cuts it first.
    timeout client {LONGEST_POLL_S + 30}s
    timeout server {LONGEST_POLL_S + 30}s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s

frontend {name}_in
    bind {bind}
    # The agent trusts X-Forwarded-For from this address (CUSTOMER_TRUSTED_PROXIES).
    option forwardfor
    default_backend {name}

backend {name}
    balance roundrobin
    option httpchk GET {health_path}
    http-check expect status 200
    # A dead replica (connection refused) is out after 2 failed checks 500 ms apart; back in
    # after 2 good ones. A busy one gets 2 s to answer: with no `timeout check` the answer would
    # have to come within `inter`, and a loaded machine would take every replica out at once.
    default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2
    timeout check 2s
    # A connection that fails is retried on another replica (redispatch), never the dead one.
    retries 3
    option redispatch 1
    # A GET (a long poll) cut by a replica's death is re-sent to another one; a POST that reached
    # a replica may have been written, so it is never re-sent: the client decides.
    retry-on conn-failure empty-response response-timeout
    http-request disable-l7-retry unless METH_GET
    # The replicas again, unchecked, used only while every checked one is down: a last replica
    # whose checks are slow (it carries every session on a loaded machine) must not leave
    # HAProxy answering 503 to everyone. A backup that is really dead refuses the connection,
    # and the request goes to another (redispatch above); allbackups spreads over all of them.
    option allbackups
{servers}
{backups}
"""


@dataclass
class LoadBalancer:
    backends: Sequence[Backend]
    health_path: str = "/readyz"
    name: str = "agents"
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="haproxy-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "haproxy.cfg"

    @property
    def stats_socket(self) -> Path:
        return self.directory / "admin.sock"

    @property
    def log_path(self) -> Path:
        return self.directory / "haproxy.log"

    def config(self) -> str:
        return haproxy_config(
            f"127.0.0.1:{self.port}", self.backends, self.stats_socket, self.health_path, self.name
        )

    def start(self) -> LoadBalancer:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (scripts/ensure_haproxy.sh installs it)")
        self.config_path.write_text(self.config())
        check = subprocess.run(
            [str(binary), "-c", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stdout}{check.stderr}")
        self.process = subprocess.Popen(
            [str(binary), "-W", "-db", "-f", str(self.config_path)],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        every = {b.name for b in self.backends}
        while {n for n, row in self.server_stats().items() if row["status"] == "UP"} != every:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(
                    f"haproxy's backends not up in {START_TIMEOUT_S}s:\n{self.log()}"
                )
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path.exists() else ""

    def admin(self, command: str) -> str:
        """One command on the stats socket (`show stat`, `disable server agents/a`, ...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(self.stats_socket))
            conn.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_stats(self) -> dict[str, dict[str, str]]:
        """`show stat` for this backend's servers, by server name (status, stot, ...)."""
        try:
            lines = self.admin("show stat").splitlines()
        except OSError:
            return {}
        if not lines or not lines[0].startswith("# "):
            return {}
        header = lines[0][2:].split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {
            row["svname"]: row
            for row in rows
            if row.get("pxname") == self.name and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def per_replica(self, column: str) -> dict[str, int]:
        """A counter of `show stat` (scur, stot, ...) per replica: its checked server's and its
        backup's together (a replica gets requests through its backup while every checked
        server is down)."""
        totals: dict[str, int] = {}
        for name, row in self.server_stats().items():
            replica = name.removesuffix(BACKUP_SUFFIX)
            totals[replica] = totals.get(replica, 0) + int(row[column] or 0)
        return totals

    def up_servers(self) -> set[str]:
        """Servers HAProxy sends to (UP, or UP while a failing check is being confirmed)."""
        return {n for n, row in self.server_stats().items() if row["status"].startswith("UP")}

    def wait_down(self, server: str, timeout: float = 10) -> float:
        """Seconds until HAProxy's health checks take `server` out of the rotation."""
        started = time.monotonic()
        while server in self.up_servers():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"haproxy still sends to {server} after {timeout}s")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)
