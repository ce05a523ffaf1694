"""`make mutation`'s configuration names files that exist, so a rename cannot silently drop one."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support.agent_process import REPO_ROOT

MUTMUT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]


def test_every_mutated_module_exists_inside_a_copied_package() -> None:
    for path in MUTMUT["only_mutate"]:
        assert (REPO_ROOT / path).is_file(), f"[tool.mutmut] only_mutate names a missing {path}"
        assert Path(path).parts[0] in MUTMUT["source_paths"], f"{path} is not under source_paths"


def test_every_selected_test_exists() -> None:
    for selection in MUTMUT["pytest_add_cli_args_test_selection"]:
        path, _, test = selection.partition("::")
        source = (REPO_ROOT / path).read_text(encoding="utf-8")
        assert not test or f"def {test}(" in source, f"{selection} names a missing test"
