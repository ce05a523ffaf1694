"""The score of `make mutation`: every mutant of the pure modules, killed or explained.

Reads mutmut's results (mutants/<module>.py.meta, written by `mutmut run`) for each file in
`[tool.mutmut] only_mutate`, and the mutants docs/mutation.md explains as equivalent. Prints
killed / total per module and exits 1 if any mutant survived without an explanation, was not
tested, or if an explanation names a mutant that no longer survives (so the page stays true).

    .venv/bin/python scripts/mutation_report.py
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from mutmut.stats import status_by_exit_code

REPO = Path(__file__).resolve().parent.parent
EXPLAINED = REPO / "docs" / "mutation.md"
# A mutant named in the explanation page: `module.x_function__mutmut_12` in backticks.
MUTANT_NAME = re.compile(r"`([\w.ǁ]+__mutmut_\d+)`")
CAUGHT = {"killed", "timeout", "caught by type check"}


def mutated_files() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def statuses(path: str) -> dict[str, str]:
    """Each mutant of one file and what became of it ("killed", "survived", ...)."""
    meta = REPO / "mutants" / f"{path}.meta"
    if not meta.exists():
        return {}
    exit_codes: Mapping[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in exit_codes.items()}


def explained() -> set[str]:
    return set(MUTANT_NAME.findall(EXPLAINED.read_text(encoding="utf-8")))


def report(by_file: Mapping[str, Mapping[str, str]], equivalent: set[str]) -> tuple[str, list[str]]:
    """The score table, and the problems that make the run fail."""
    rows = [
        "| module | mutants | killed | equivalent (explained) | score |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    problems: list[str] = []
    totals: Counter[str] = Counter()
    for path, results in by_file.items():
        if not results:
            problems.append(f"{path}: no results; did `mutmut run` finish?")
            continue
        counts = Counter(
            "killed" if status in CAUGHT else "equivalent" if name in equivalent else status
            for name, status in results.items()
        )
        for name, status in sorted(results.items()):
            if status not in CAUGHT and name not in equivalent:
                problems.append(f"{status}: {name} (mutmut show {name})")
            if status in CAUGHT and name in equivalent:
                problems.append(f"killed now, still explained in docs/mutation.md: {name}")
        total = sum(counts.values())
        rows.append(
            f"| `{path}` | {total} | {counts['killed']} | {counts['equivalent']} "
            f"| {100 * counts['killed'] / total:.1f}% |"
        )
        totals.update(counts)
    total = sum(totals.values())
    if total:
        rows.append(
            f"| **all** | {total} | {totals['killed']} | {totals['equivalent']} "
            f"| {100 * totals['killed'] / total:.1f}% |"
        )
    return "\n".join(rows), problems


def main() -> int:
    table, problems = report({path: statuses(path) for path in mutated_files()}, explained())
    print(table)
    for problem in problems:
        print(problem)
    print("every mutant killed or explained" if not problems else f"{len(problems)} to look at")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
