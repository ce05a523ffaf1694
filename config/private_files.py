"""The agent's home holds customers' transcripts and claims, the bridge's state operators'
replies: readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# SQLite creates a database's journal files with the database file's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# Files and folders created after `restrict_new_files` are 0600 / 0700 whoever creates them
# (SQLite, Parlant's log file): a mode per call site would miss the ones we do not write.
PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    os.umask(PRIVATE_UMASK)


def make_private_file(path: Path) -> None:
    """Create the file `path` (an SQLite database) 0600 in a directory created 0700, whatever
    the umask; an existing one, and SQLite's journal files beside it, are made 0600 too.

    For processes started without `make run` (which sets the umask): the bridge's outbox holds
    operators' reply text. An existing directory keeps its mode: it may be shared."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
    for file in (path, *(path.with_name(path.name + end) for end in SQLITE_COMPANIONS)):
        if file.exists():
            file.chmod(PRIVATE_FILE_MODE)


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it 0700, also when it existed with a looser mode."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR_MODE)
