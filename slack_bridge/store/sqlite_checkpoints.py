"""WAL checkpoints of the bridge's SQLite file, off the event loop.

SQLite checkpoints a WAL on the commit that finds it over 1,000 pages: that commit copies the
pages into the database file and syncs it, about 100 ms here, in which the bridge's event loop
(which commits in-line) serves nothing. At 10,000 open escalations the mirrors' commits filled
the WAL every few seconds and those stalls were the operator relay's p99 (py-spy). The bridge's
connection turns automatic checkpoints off (`wal_autocheckpoint=0`); this thread checkpoints
on its own connection instead, PASSIVE, so it neither waits for nor holds up the writer,
once the WAL file is past 1,000 pages (the store's `journal_size_limit=0` cuts the file back
when a commit starts the WAL over, so its size is what waits to be copied). Durability does not depend on it: a commit is synced to the WAL (`synchronous=FULL`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Checked once a second; checkpointed past 1,000 pages, as SQLite itself would.
CHECK_EVERY_S = 1.0
WAL_BYTES = 1000 * 4096


class BackgroundCheckpoints:
    def __init__(
        self, path: Path, check_every_s: float = CHECK_EVERY_S, wal_bytes: int = WAL_BYTES
    ) -> None:
        self._path = path
        self._wal = path.with_name(path.name + "-wal")
        self._check_every_s = check_every_s
        self._wal_bytes = wal_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)

    def start(self) -> BackgroundCheckpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self._check_every_s):
                try:
                    if self._wal.exists() and self._wal.stat().st_size > self._wal_bytes:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except (OSError, sqlite3.Error) as error:
                    # The next round tries again; meanwhile the WAL only grows.
                    log.warning("bridge state checkpoint failed: %r", error)
        finally:
            db.close()
