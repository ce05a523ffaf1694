"""Acknowledged writes to the SQLite document store survive SIGKILL of the writing process."""

import os
import tempfile

# Importing parlant.sdk or parlant.bin creates PARLANT_HOME; keep it out of the tree.
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="parlant-home-"))

import asyncio
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from parlant.core.persistence.document_database import BaseDocument, identity_loader_for

from agent.store.sqlite_documents import SQLiteDocumentDatabase

WRITER = Path(__file__).parent / "helpers" / "sqlite_writer.py"


def run_writer_until_killed(database: Path, run: str) -> list[tuple[str, str]]:
    """Starts the writer, kills it at a random moment once it writes, returns what it acked."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(database), run],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout
    try:
        ready, _, _ = select.select([writer.stdout], [], [], 30)
        assert ready, "the writer acknowledged nothing in 30 s"
        time.sleep(random.uniform(0.05, 0.5))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    # A pipe write this small is atomic, so every line read is whole.
    acknowledged = [line.split() for line in writer.stdout.read().splitlines()]
    writer.stdout.close()
    assert acknowledged, "the writer died before acknowledging a write"
    return [(operation, document_id) for operation, document_id in acknowledged]


async def stored_versions(database_path: Path) -> tuple[dict[str, str], str]:
    async with SQLiteDocumentDatabase(database_path) as database:
        documents = await database.get_collection(
            "documents", BaseDocument, identity_loader_for(BaseDocument)
        )
        versions: dict[str, str] = {d["id"]: d["version"] for d in await documents.find({})}
        (integrity,) = await database.run(
            lambda connection: connection.execute("PRAGMA integrity_check").fetchone()
        )
        return versions, integrity


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    database = tmp_path / "crash.sqlite"
    inserted: set[str] = set()
    updated: set[str] = set()
    # One file across all runs: each run also recovers the WAL the previous kill left behind.
    for run in range(5):
        for operation, document_id in run_writer_until_killed(database, f"run{run}"):
            (updated if operation == "update" else inserted).add(document_id)

        versions, integrity = asyncio.run(stored_versions(database))

        assert integrity == "ok"
        lost = inserted - versions.keys()
        assert not lost, f"run {run}: acknowledged inserts lost: {sorted(lost)[:5]}"
        # An update in flight at the kill may or may not have landed; an acknowledged one has.
        unapplied = {i for i in updated if versions[i] != "2"}
        assert not unapplied, f"run {run}: acknowledged updates lost: {sorted(unapplied)[:5]}"
