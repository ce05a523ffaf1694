"""How `make test`'s xdist workers share the suite (`-n 6 --dist loadfile`).

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

# Module file names, slowest first (a split module by its longest part); every other module
# follows in collection order. From a `--durations=0` run of `make test` on a quiet 2-core
# machine: the time each took on its worker, its set-up included (the 35 over 20 s, and a few
# shorter that start agents). A simulation of the schedule on those figures ends the run within
# a second of the ideal, where the order before this one ended it 15 s later.
SLOWEST_FIRST = (
    "test_ai_failure.py",  # 96 s
    "test_bridge_replicas_in_process.py",
    "test_conversation_scenarios.py",
    "test_bridge_in_process.py",
    "test_dashboard_app.py",
    "test_slack_bridge_faults.py",
    "test_llm_contract.py",
    "test_two_of_everything.py",
    "test_dashboard_browser.py",
    "test_crash_points.py",  # two parts of 53-56 s
    "test_slack_sla.py",
    "test_slack_bridge_e2e.py",
    "test_operations.py",
    "test_sqlite_document_store.py",  # 40 s and 34 s
    "test_crash_points_postgres.py",
    "test_shared_pacing.py",
    "test_make_run.py",
    "test_hostile_input.py",
    "test_truthful_replies.py",
    "test_customers.py",
    "test_chaos.py",
    "test_dashboard_signin.py",
    "test_fuzz.py",
    "test_launcher_readiness.py",
    "test_learning_browser.py",
    "test_launcher_signals.py",
    "test_slack_behind.py",
    "test_escalation_feed.py",
    "test_slack_routing_e2e.py",
    "test_agent_replicas.py",
    "test_widget_browser.py",
    "test_copilot_figures_browser.py",
    "test_customer_edges.py",  # 20 s
    "test_session_store_crash.py",
    "test_escalation_feed_replicas.py",
    "test_learning_loop.py",
    "test_gateway_usage.py",
    "test_llm_check.py",
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
