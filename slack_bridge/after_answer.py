"""Work a listener starts once Slack has been answered: buttons and forms `ack` at once and
hand what is slow (Parlant, chat.update, views.open) to a task, so Slack never waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

# Work started by a listener that answered Slack already; held so none is collected mid-way.
_after_answer: set[asyncio.Task[None]] = set()


def after_answer(work: Coroutine[Any, Any, None], name: str) -> None:
    """Run `work` once the listener has returned (and so Slack has been answered)."""
    task = asyncio.create_task(work, name=name)
    _after_answer.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[None]) -> None:
    _after_answer.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s failed", task.get_name(), exc_info=error)
