"""mypy leaves some third-party packages unanalysed (pyproject.toml, `follow_imports = "skip"`)
to keep a cold `make lint` short. That is only sound for packages the project never imports
itself: an import of one would be typed Any and its misuse would pass the strict check."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

from tests.support.agent_process import REPO_ROOT


def mypy_settings() -> dict[str, Any]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    settings: dict[str, Any] = pyproject["tool"]["mypy"]
    return settings


def unanalysed_packages() -> set[str]:
    return {
        pattern.removesuffix(".*")
        for override in mypy_settings()["overrides"]
        if override.get("follow_imports") == "skip"
        for pattern in override["module"]
    }


def imported_packages(files: list[Path]) -> dict[str, Path]:
    """Each top-level package imported by absolute import in `files`, with a file importing it."""
    found: dict[str, Path] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return found


def checked_files() -> list[Path]:
    folders = mypy_settings()["files"]
    return [path for folder in folders for path in sorted((REPO_ROOT / folder).rglob("*.py"))]


def test_no_package_the_project_imports_is_left_unanalysed() -> None:
    skipped = unanalysed_packages()
    assert skipped, "the override is gone: drop this test with it"
    imported = imported_packages(checked_files())
    assert "parlant" in imported and "streamlit" in imported  # the walk sees the imports
    both = {name: str(imported[name].relative_to(REPO_ROOT)) for name in skipped & imported.keys()}
    assert not both, f"imported by the project, so mypy must analyse them: {both}"


def test_the_check_sees_an_import_of_an_unanalysed_package(tmp_path: Path) -> None:
    module = tmp_path / "uses_it.py"
    module.write_text("from PIL import Image\nimport opentelemetry.trace as trace\n")
    assert {"PIL", "opentelemetry"} <= imported_packages([module]).keys() & unanalysed_packages()
