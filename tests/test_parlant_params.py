"""Query values Parlant answers with a 500 are refused first (agent/parlant_params.py)."""

from __future__ import annotations

import pytest

from agent.parlant_params import problem


def scope(path: str, query: str) -> dict[str, object]:
    return {"type": "http", "path": path, "query_string": query.encode()}


@pytest.mark.parametrize("query", ["kinds=0", "kinds=message,0", "kinds=message&kinds=x"])
def test_an_unknown_event_kind_is_refused_naming_it(query: str) -> None:
    reason = problem(scope("/sessions/abc/events", query))
    assert reason is not None and "kinds may be custom, message, status, tool" in reason


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/sessions/abc/events", "kinds=message,status"),
        ("/sessions/abc/events", "kinds="),
        ("/sessions/abc/events", "wait_for_data=0"),
        ("/sessions/abc", "kinds=0"),
        ("/sessions/abc/events/x", "kinds=0"),
    ],
)
def test_everything_else_passes(path: str, query: str) -> None:
    assert problem(scope(path, query)) is None


@pytest.mark.parametrize("tool_id", ["0", "a:b:c", ":::"])
def test_a_tool_id_that_is_not_service_and_tool_is_refused(tool_id: str) -> None:
    reason = problem(scope("/relationships", f"tool_id={tool_id}"))
    assert reason is not None and "service:tool" in reason


def test_a_service_and_tool_pair_passes() -> None:
    assert problem(scope("/relationships", "tool_id=built-in:file_claim")) is None
    assert problem(scope("/relationships", "guideline_id=x")) is None
