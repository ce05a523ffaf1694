"""`make run`'s operator token: generated once into the data dir, private, reused, never shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from config import SettingsError
from launcher.__main__ import child_environment
from launcher.operator_token import EXPLICIT, resolve_operator_token, token_file


def test_first_run_generates_a_private_token_file(tmp_path: Path) -> None:
    home = tmp_path / "data" / "parlant"
    token = resolve_operator_token(None, home)
    path = token_file(home)
    assert token.kept_in == str(path)
    assert path.read_text().strip() == token.value
    assert len(token.value) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in home.iterdir()] == ["operator_token"]  # no temp file left behind
    assert token.value not in repr(token)


def test_later_runs_reuse_the_token(tmp_path: Path) -> None:
    first = resolve_operator_token(None, tmp_path)
    second = resolve_operator_token(None, tmp_path)
    assert second.value == first.value


def test_two_homes_get_different_tokens(tmp_path: Path) -> None:
    assert (
        resolve_operator_token(None, tmp_path / "a").value
        != resolve_operator_token(None, tmp_path / "b").value
    )


def test_an_explicit_token_wins_and_no_file_is_written(tmp_path: Path) -> None:
    token = resolve_operator_token("explicit-token-from-dotenv", tmp_path)
    assert (token.value, token.kept_in) == ("explicit-token-from-dotenv", EXPLICIT)
    assert not token_file(tmp_path).exists()


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = token_file(tmp_path)
    path.write_text("a-token-someone-else-could-read\n")
    os.chmod(path, 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        resolve_operator_token(None, tmp_path)


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    path = token_file(tmp_path)
    path.write_text("")
    os.chmod(path, 0o600)
    with pytest.raises(SettingsError, match="empty"):
        resolve_operator_token(None, tmp_path)


def test_every_child_process_gets_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLANT_PORT", "8899")
    token = resolve_operator_token(None, tmp_path)
    env = child_environment(token, demo_customers=False)
    assert env["PARLANT_OPERATOR_TOKEN"] == token.value
    assert env["PARLANT_PORT"] == "8899"
    assert "CUSTOMER_DEMO" not in env
    assert child_environment(token, demo_customers=True)["CUSTOMER_DEMO"] == "on"
