"""The operator token `make run` gives every process it starts, kept in a file beside the data.

An explicit PARLANT_OPERATOR_TOKEN (environment or .env) wins. Otherwise the first `make run`
generates one into PARLANT_HOME/operator_token (mode 0600) and later runs reuse it, so a
restart does not lock out an operator tool configured with it. The token itself is never
printed; the banner names where it is kept.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from config import SettingsError

TOKEN_FILE_NAME = "operator_token"
TOKEN_BYTES = 32
EXPLICIT = "PARLANT_OPERATOR_TOKEN (environment or .env)"


@dataclass(frozen=True)
class OperatorToken:
    value: str = field(repr=False)
    kept_in: str


def token_file(home: Path) -> Path:
    return home / TOKEN_FILE_NAME


def resolve_operator_token(configured: str | None, home: Path) -> OperatorToken:
    if configured:
        return OperatorToken(value=configured, kept_in=EXPLICIT)
    path = token_file(home)
    return OperatorToken(value=read_or_create_token_file(path), kept_in=str(path))


def read_or_create_token_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            _create_once(path, secrets.token_urlsafe(TOKEN_BYTES))
        except FileExistsError:
            pass  # another launcher won the race; its token is the one to use
    return _read_private(path)


def _create_once(path: Path, token: str) -> None:
    # Written in full to a private temp file, then linked into place: the file is never seen
    # half-written, and a second launcher starting at the same moment cannot overwrite it.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as temp:
            temp.write(token + "\n")
            temp.flush()
            os.fsync(temp.fileno())
        os.link(temp_name, path)
    finally:
        os.unlink(temp_name)


def _read_private(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"{path} (the operator token) is readable by other users (mode {mode:o}); "
            f"run `chmod 600 {path}`, or set PARLANT_OPERATOR_TOKEN"
        )
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise SettingsError(
            f"{path} (the operator token) is empty; delete it to have a new one generated, "
            "or set PARLANT_OPERATOR_TOKEN"
        )
    return token
