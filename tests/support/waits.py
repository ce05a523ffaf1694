"""Waiting in tests: on a condition, never for a fixed time.

`eventually` waits until something happened. `stays` is the one bounded quiet window after it:
it re-checks that nothing more happened (no second post, no second delivery) for the whole
window and fails at the first moment it did, so a window is only as long as the interval of
the code it covers, and a duplicate that comes and goes within it is still caught.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.1


def eventually(check: Callable[[], T | None], timeout: float = 20, what: str = "condition") -> T:
    """`check`'s first truthy result (None and other falsy results mean "not yet")."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def stays(check: Callable[[], object], seconds: float) -> None:
    """`check` (which asserts) holds from now until `seconds` have passed, checked every poll
    and once more at the end."""
    deadline = time.monotonic() + seconds
    while True:
        check()
        if time.monotonic() >= deadline:
            return
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


async def stays_async(check: Callable[[], Awaitable[object]], seconds: float) -> None:
    """`stays` for tests whose event loop also serves the fake Slack and the bridge."""
    deadline = time.monotonic() + seconds
    while True:
        await check()
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
