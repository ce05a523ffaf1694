"""The tokenizer encodings come from a PyPI package into tiktoken's cache: no download at start."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from agent.nlp.tokenizer_files import ENCODINGS, ensure_cache, fill_cache, missing_encodings
from tests.support import forks
from tests.support.agent_process import REPO_ROOT

ENCODE = """
import tiktoken
print(tiktoken.encoding_for_model("gpt-4.1").encode("hello world"))
print(tiktoken.encoding_for_model("text-embedding-3-large").encode("hello world"))
"""


def test_the_cache_holds_openais_files_and_tiktoken_uses_them_offline(tmp_path: Path) -> None:
    assert missing_encodings(tmp_path) == ["o200k_base", "cl100k_base"]

    assert fill_cache(tmp_path) == ["o200k_base", "cl100k_base"]

    for encoding in ENCODINGS:
        content = encoding.cache_file(tmp_path).read_bytes()
        assert hashlib.sha256(content).hexdigest() == encoding.sha256
    assert fill_cache(tmp_path) == []  # already there
    # This machine cannot reach tiktoken's blob store: the ids can only come from the cache.
    result = subprocess.run(
        [sys.executable, "-c", ENCODE],
        env={**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[24912, 2375]", "[15339, 1917]"]


def test_a_cache_that_cannot_be_filled_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")

    problem = ensure_cache(blocked / "tiktoken")

    assert problem is not None and "\n" not in problem
    assert "TIKTOKEN_CACHE_DIR=" in problem and "o200k_base" in problem


def test_the_agent_stops_at_start_with_that_line(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLANT_"))}
    result = forks.run(
        "agent",
        cwd=REPO_ROOT,
        env={
            **clean,
            "DOTENV_PATH": str(tmp_path / "none.env"),
            "PARLANT_HOME": str(tmp_path / "home"),
            "OPENAI_API_KEY": "sk-test",
            "TIKTOKEN_CACHE_DIR": str(blocked / "tiktoken"),
        },
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 3 and len(lines) == 1, result.stderr
    assert lines[0].startswith("agent: LLM check failed: the tokenizer encodings")
