"""The agent's home holds customers' transcripts and claims: readable by its owner only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
# Files and folders created after `restrict_new_files` are 0600 / 0700 whoever creates them
# (SQLite, Parlant's log file): a mode per call site would miss the ones we do not write.
PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it 0700, also when it existed with a looser mode."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR_MODE)
