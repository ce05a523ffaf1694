"""Secrets generated once into a private file beside the data, then reused.

Used for the operator token `make run` hands to every process, the key that signs guest
tokens, and the demo's customer-token key: each is created on the first start and read on
every later one, so a restart does not invalidate what was issued with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from config.env import SettingsError

SECRET_BYTES = 32


def read_or_create_secret(path: Path, what: str, setting: str) -> str:
    """The secret in `path`, generated first if missing; `what` and `setting` name it in errors."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Another process may win the race; its secret is then the one to use.
        with contextlib.suppress(FileExistsError):
            _create_once(path, secrets.token_urlsafe(SECRET_BYTES))
    return _read_private(path, what, setting)


def _create_once(path: Path, secret: str) -> None:
    # Written in full to a private temp file, then linked into place: the file is never seen
    # half-written, and a second process starting at the same moment cannot overwrite it.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as temp:
            temp.write(secret + "\n")
            temp.flush()
            os.fsync(temp.fileno())
        os.link(temp_name, path)
    finally:
        os.unlink(temp_name)


def _read_private(path: Path, what: str, setting: str) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"{path} ({what}) is readable by other users (mode {mode:o}); "
            f"run `chmod 600 {path}`, or set {setting}"
        )
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise SettingsError(
            f"{path} ({what}) is empty; delete it to have a new one generated, or set {setting}"
        )
    return secret
