"""How `make test`'s xdist workers share the suite (`-n 5 --dist loadfile`).

A worker takes whole modules, as `--dist loadfile` does: a module's agent and Slack fixtures
are per module, so splitting one across workers starts them twice. Two refinements:

- A module that alone would outlast everything else on one worker is split into named parts
  (`SPLITS`); each worker may take a part and build that module's fixtures for it. xdist's
  `--dist loadgroup` would do this with marks, but on pytest 9.2 it silently stops grouping
  (pytest-xdist issue #1386), so the split is this scheduler, installed by tests/conftest.py.
- The slowest modules go first (`SLOWEST_FIRST`, from `--durations` runs): a long module
  started last leaves the other workers idle while it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from xdist.scheduler import LoadFileScheduling

# test_crash_points.py: its points by pipeline, in two halves of about equal length.
CRASH_POINT_HALVES = {"mirror": "a", "outbox": "a", "root": "b", "sla": "b", "handback": "b"}


def _crash_point_half(test: str) -> str:
    if "[" not in test:
        return "a"
    point = test.split("[", 1)[1]
    return CRASH_POINT_HALVES[point.split(".", 1)[0]]


def _store_backend(test: str) -> str:
    # The store crash tests run once per backend: [sqlite] and [postgresql]; each backend's
    # fixtures are its own anyway.
    return "postgresql" if "[postgresql" in test else "sqlite"


def _property_test(test: str) -> str:
    # The two store comparisons (each on both backends) are most of the module's time.
    return "wild" if test.startswith("test_agrees_with_parlant_on_missing_fields") else "rest"


# Module file name -> the part of the module a test id belongs to.
SPLITS: dict[str, Callable[[str], str]] = {
    "test_crash_points.py": _crash_point_half,
    "test_sqlite_document_store.py": _property_test,
    "test_session_store_crash.py": _store_backend,
}

# Module file names, slowest first; every other module follows in collection order.
SLOWEST_FIRST = (
    "test_crash_points.py",
    "test_slack_bridge_faults.py",
    "test_slack_sla.py",
    "test_launcher_signals.py",
    "test_make_run.py",
    "test_launcher_readiness.py",
    "test_operations.py",
    "test_slack_bridge_e2e.py",
    "test_ai_failure.py",
    "test_bridge_replicas_in_process.py",
    "test_llm_contract.py",
    "test_gateway_usage.py",
    "test_llm_check.py",
    "test_crash_points_postgres.py",
    "test_two_of_everything.py",
    "test_chaos.py",
    "test_dashboard_app.py",
    "test_learning_browser.py",
    "test_learning_loop.py",
    "test_sqlite_document_store.py",
    "test_session_store_crash.py",
    # Both were minutes of AI turns, now under a minute each: still ahead of the short ones.
    "test_escalation_feed_replicas.py",
    "test_truthful_replies.py",
)


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def work_unit(nodeid: str) -> str:
    """The unit one worker runs whole: the module, or its part for a split module."""
    module, _, test = nodeid.partition("::")
    split = SPLITS.get(module.rsplit("/", 1)[-1])
    return f"{module}::{split(test)}" if split else module


def rank(nodeid: str) -> int:
    name = module_of(nodeid).rsplit("/", 1)[-1]
    return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)


class SplitModuleScheduling(LoadFileScheduling):  # type: ignore[misc]  # xdist is untyped
    """`--dist loadfile` with the work units of `work_unit`."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
