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


def ensure_writable_dir(path: Path, setting: str, *, private: bool = False) -> None:
    """Create `path` if needed (0700 when `private`) and prove a file can be written in it."""
    try:
        if private:
            make_private_dir(path)
        else:
            path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or repr(error)
        raise SettingsError(
            f"{setting}={path} is not a writable directory ({reason}); "
            f"set {setting} to a directory this user ({_user()}) can write"
        ) from None


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())
