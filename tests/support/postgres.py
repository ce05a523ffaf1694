"""A throwaway PostgreSQL cluster for tests and benches: Debian's binaries, a temporary directory.

`initdb` into a fresh directory, `pg_ctl start` on a free port on 127.0.0.1 (and a unix socket in
the same directory), stopped and deleted at the end. No container and no system service: the
binaries come from Debian's `postgresql` package (scripts/ensure_postgres.sh installs it).

Durability settings are PostgreSQL's defaults, as in production (fsync, synchronous_commit and
full_page_writes on), so latency figures and crash tests mean what they would there. Only initdb's
own final sync is skipped (`--no-sync`): it makes the empty template durable, which a throwaway
cluster does not need, and costs seconds.

initdb refuses to run as root; under root (CI here) the cluster runs as the `postgres` user that
the Debian package creates, through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.agent_process import free_port

SUPERUSER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    return Path(max(found, key=lambda p: int(Path(p).parts[-3]))).parent


@dataclass
class PostgresCluster:
    bin_dir: Path
    port: int = field(default_factory=free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-cluster-")))
    _started: bool = False
    _watchdog: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _command(self, *args: str) -> list[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return command

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._command(*args), check=True, capture_output=True, text=True, timeout=120
        )

    def _watch_this_process(self) -> None:
        """The server outlives a test run stopped by SIGTERM or SIGKILL (no fixture teardown
        runs): a small shell in its own session holds a pipe from this process, and when the
        pipe closes (this process ended, however) it stops the server and removes the
        directory."""
        stop = self._command(
            "pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate"
        )
        self._watchdog = subprocess.Popen(
            ["sh", "-c", 'read _ ; "$@" >/dev/null 2>&1 ; rm -rf "$CLUSTER_DIR"', "sh", *stop],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CLUSTER_DIR": str(self.directory)},
            start_new_session=True,
        )

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            # The server's user must own its directory (and reach it: mkdtemp makes it 0700).
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",  # only this machine's test processes reach it: 127.0.0.1 and a private socket
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            # Enough for several agent replicas with their pools and listeners, plus the tests.
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "start",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log_path),
            "--options",
            options,
            "--wait",
            "--timeout",
            "60",
        )
        self._started = True
        self._watch_this_process()
        return self

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, statement: str, database: str = "postgres") -> str:
        psql = self.bin_dir / "psql"
        return subprocess.run(
            [
                str(psql),
                *("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"),
                *("-d", self.url(database), "-c", statement),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill()  # a clean stop follows
            self._watchdog.wait()
            self._watchdog = None
        if self._started:
            # fast: roll back open transactions and disconnect clients, then a clean shutdown.
            self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "fast")
            self._started = False
        shutil.rmtree(self.directory, ignore_errors=True)
