"""The operator token `make run` gives every process it starts, kept in a file beside the data.

An explicit PARLANT_OPERATOR_TOKEN (environment or .env) wins. Otherwise the first `make run`
generates one into PARLANT_HOME/operator_token (mode 0600) and later runs reuse it, so a
restart does not lock out an operator tool configured with it. The token itself is never
printed; the banner names where it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config.secret_files import read_or_create_secret

TOKEN_FILE_NAME = "operator_token"
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
    return read_or_create_secret(path, "the operator token", "PARLANT_OPERATOR_TOKEN")
