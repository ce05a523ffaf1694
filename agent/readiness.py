"""Readiness answered from probes that run beside the health check, not inside it.

A load balancer's health check gets a fixed time to answer (HAProxy's `timeout check 2s` in
docs/replicas.md). When /readyz ran its dependency checks while the check waited, an agent
replica left carrying every session answered too slowly (its store and thread pool busy), and
HAProxy took the last replica out of the rotation. Here the checks run in a loop of their own,
one round every `interval_s`, and /readyz reads the last round's results, which costs nothing.

The answer stays honest: a round that does not finish (a hung dependency) makes the results
stale, and stale results say not ready, so a replica whose database stops answering still
leaves the rotation, within one check time-out and two rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]  # None: fine; else what is wrong


class ReadinessProbe:
    def __init__(
        self, checks: Callable[[], Mapping[str, Check]], interval_s: float, timeout_s: float
    ) -> None:
        """`checks` is asked for the checks at every round (they may change once the server
        is up)."""
        self._checks = checks
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._last: tuple[float, bool, dict[str, str]] | None = None
        self._first_round = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def current(self) -> tuple[bool, dict[str, str]]:
        """The last round's answer. The first call starts the rounds and waits for the
        first one, so a replica is never reported ready before it was checked."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="readiness-probe")
        await self._first_round.wait()
        assert self._last is not None
        finished, ready, results = self._last
        age = time.monotonic() - finished
        if age > self._timeout_s + 2 * self._interval_s:
            # The checks are hanging past their own time-out: the event loop is stuck.
            return False, {**results, "probe": f"no finished round for {age:.1f}s"}
        return ready, results

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            ready, results = await self._round()
            if not ready and (self._last is None or self._last[1]):
                log.warning("not ready: %s", results)
            self._last = (time.monotonic(), ready, results)
            self._first_round.set()
            await asyncio.sleep(self._interval_s)

    async def _round(self) -> tuple[bool, dict[str, str]]:
        async def run(check: Check) -> str | None:
            try:
                return await asyncio.wait_for(check(), self._timeout_s)
            except TimeoutError:
                return f"no answer within {self._timeout_s:g}s"
            except Exception as error:
                return repr(error)

        checks = self._checks()
        problems = await asyncio.gather(*(run(check) for check in checks.values()))
        results = {name: problem or "ok" for name, problem in zip(checks, problems, strict=True)}
        return all(problem is None for problem in problems), results
