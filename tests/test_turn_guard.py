"""Each AI turn's bounds (agent/nlp/turn_guard.py) and the failure's reason (agent/ai_failure.py),
without a server. Parlant's engine is imported by the tests, not at collection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


class _Context:
    """Like Parlant's EngineContext in what the guard reads: when the turn started (Parlant's
    stopwatch reads the event loop's clock, so these tests run in one)."""

    def __init__(self, started_seconds_ago: float) -> None:
        from parlant.core.async_utils import Stopwatch

        self.creation = Stopwatch.start()
        self.creation._start -= started_seconds_ago


def _guard(timeout: float = 10.0, calls: int = 3) -> Any:
    from agent.nlp.turn_guard import TurnGuard, TurnLimits

    return TurnGuard(TurnLimits(timeout_seconds=timeout, max_model_calls=calls))


def _in_a_loop(check: Any) -> None:
    async def go() -> None:
        check()

    asyncio.run(go())


def test_a_call_gets_what_is_left_of_the_turn() -> None:
    def check() -> None:
        left = _guard(timeout=10.0).admit(_Context(started_seconds_ago=4.0))
        assert 5.9 < left <= 6.0

    _in_a_loop(check)


def test_past_the_deadline_no_call_is_made() -> None:
    from agent.nlp.turn_guard import TurnOverBudget

    def check() -> None:
        with pytest.raises(TurnOverBudget, match="deadline"):
            _guard(timeout=10.0).admit(_Context(started_seconds_ago=10.5))

    _in_a_loop(check)


def test_calls_are_counted_per_turn() -> None:
    from agent.nlp.turn_guard import TurnOverBudget

    def check() -> None:
        guard = _guard(calls=2)
        turn, other = _Context(0), _Context(0)
        guard.admit(turn)
        guard.admit(turn)
        guard.admit(other)  # another turn has its own count
        with pytest.raises(TurnOverBudget, match="2 model calls"):
            guard.admit(turn)
        guard.forget(turn)
        guard.admit(turn)  # forgotten at the turn's end

    _in_a_loop(check)


def test_a_call_that_outlasts_the_turn_is_abandoned() -> None:
    from parlant.core.engines.alpha.entity_context import EntityContext

    from agent.nlp.turn_guard import GuardedGenerator, TurnOverBudget

    class Hanging:
        async def generate(self, prompt: Any, hints: Any = None) -> Any:
            await asyncio.sleep(60)

    async def go() -> None:
        EntityContext.set(_Context(started_seconds_ago=9.9))  # type: ignore[arg-type]
        generator: Any = GuardedGenerator(Hanging(), _guard(timeout=10.0))  # type: ignore[arg-type]
        with pytest.raises(TurnOverBudget, match="outlasted"):
            await generator.generate("prompt")

    asyncio.run(go())


def test_the_reason_names_what_failed_never_its_text() -> None:
    from agent.ai_failure import failure_reason

    assert failure_reason(ValueError("card 4111 1111 1111 1111")) == "AI failure: ValueError"
    assert failure_reason(None) == "AI failure: the turn ended with no message"


def test_the_cause_is_the_bound_wherever_parlant_wrapped_it() -> None:
    from agent.ai_failure import failure_cause
    from agent.nlp.turn_guard import TurnOverBudget
    from handoff.failed_turn import FailureCause

    def raised_from(inner: BaseException, outer: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as error:
                raise outer from error
        except BaseException as wrapped:
            return wrapped

    calls = TurnOverBudget("the turn made 3 model calls", FailureCause.MODEL_CALLS)
    deadline = TurnOverBudget("deadline passed", FailureCause.DEADLINE)
    assert failure_cause(None) is FailureCause.NO_REPLY
    assert failure_cause(ValueError("x")) is FailureCause.ERROR
    assert failure_cause(raised_from(calls, RuntimeError("batch"))) is FailureCause.MODEL_CALLS
    grouped = ExceptionGroup(  # type: ignore[type-var]
        "batches", [ValueError("a"), raised_from(deadline, KeyError("b"))]
    )
    assert failure_cause(grouped) is FailureCause.DEADLINE


def test_the_turn_remembers_its_last_model_error_never_its_text() -> None:
    from parlant.core.engines.alpha.entity_context import EntityContext

    from agent.nlp.turn_guard import GuardedGenerator

    class ServerError(Exception):
        status_code = 500

    class Failing:
        async def generate(self, prompt: Any, hints: Any = None) -> Any:
            raise ServerError("the prompt quoted card 4111 1111 1111 1111")

    async def go() -> None:
        turn = _Context(started_seconds_ago=0)
        EntityContext.set(turn)  # type: ignore[arg-type]
        guard = _guard()
        with pytest.raises(ServerError):
            await GuardedGenerator(Failing(), guard).generate("prompt")  # type: ignore[arg-type]
        assert guard.forget(turn) == "ServerError (HTTP 500)"
        assert guard.forget(turn) is None  # forgotten

    asyncio.run(go())
