"""A data directory the process can really write, or one line saying which setting to change.

Checked at start: an unwritable or read-only PARLANT_HOME otherwise surfaced as a traceback from
deep inside Parlant's import (it creates its log file there) or from SQLite.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config.env import SettingsError
from config.private_files import make_private_dir


def ensure_writable_file_dir(file: Path, setting: str) -> None:
    """`setting` names the file `file`: its directory must exist or be made, and be writable."""
    reason = _not_writable(file.parent, private=False)
    if reason is not None:
        raise SettingsError(
            f"{setting}={file}: its directory {file.parent} is not writable ({reason}); "
            f"set {setting} to a file in a directory this user ({_user()}) can write"
        )


def ensure_writable_dir(path: Path, setting: str, *, private: bool = False) -> None:
    """Create `path` if needed (0700 when `private`) and prove a file can be written in it."""
    reason = _not_writable(path, private=private)
    if reason is not None:
        raise SettingsError(
            f"{setting}={path} is not a writable directory ({reason}); "
            f"set {setting} to a directory this user ({_user()}) can write"
        )


def _not_writable(path: Path, *, private: bool) -> str | None:
    """Why a file cannot be written in `path` (made if missing), or None when it can."""
    try:
        if private:
            make_private_dir(path)
        else:
            path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        return error.strerror or repr(error)
    return None


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())
