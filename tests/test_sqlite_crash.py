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
    lines = writer.stdout.read().splitlines()
    writer.stdout.close()
    acknowledged = [tuple(line.split()) for line in lines]
    # The kill can land while the last line is being written (a CI run once read a line of
    # one word there): a line not written whole was never an acknowledgement. Any other line
    # must be one.
    if acknowledged and not _is_ack(acknowledged[-1]):
        acknowledged.pop()
    assert acknowledged, "the writer died before acknowledging a write"
    malformed = [line for line, ack in zip(lines, acknowledged, strict=False) if not _is_ack(ack)]
    assert not malformed, f"the writer printed lines that are not acknowledgements: {malformed[:3]}"
    return [(ack[0], ack[1]) for ack in acknowledged]


def _is_ack(words: tuple[str, ...]) -> bool:
    return len(words) == 2 and words[0] in ("insert", "update")


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
