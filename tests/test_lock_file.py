"""requirements.lock (installed by `make run`'s and `make test`'s bootstrap through uv) pins every
dependency pyproject.toml declares for them, at a version pyproject.toml allows: a dependency
added without `make lock` would otherwise be missing from a fresh clone's venv."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.agent_process import REPO_ROOT


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pins[canonicalize_name(name)] = rest.split(";")[0].strip()
    return pins


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [
        Requirement(r)
        for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]
    ]
    pins = locked()
    for requirement in declared:
        if requirement.name == project["name"]:
            continue  # the project's own extras
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
        )
