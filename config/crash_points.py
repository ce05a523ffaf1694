"""Test-only crash points: the process dies at a named step, as in a SIGKILL or a power cut.

Each pipeline that writes to two places (Slack and the bridge's state, Parlant and the outbox)
calls `crash_point(name)` between its writes. A test names one point in `TEST_CRASH_AT` and sets
`TEST_CRASH_POINTS=1`; the process then `os._exit`s the first time it reaches that point, and
the test restarts it without them to check that nothing was lost, doubled or reordered.
Both variables are needed, so a stray `TEST_CRASH_AT` in a real deployment does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Final

ENABLE_ENV: Final = "TEST_CRASH_POINTS"
POINT_ENV: Final = "TEST_CRASH_AT"
# Distinct from a signal's exit status, so a test can tell its crash from a real one.
EXIT_STATUS: Final = 86

# Every point, by pipeline; `crash_point` refuses any other name, so a typo cannot pass a test.
POINTS: Final = frozenset(
    {
        "mirror.before_post",  # the part is marked "attempting", Slack not called yet
        "mirror.after_post",  # Slack accepted the part, the state does not know its ts
        "mirror.after_record",  # the event is recorded as posted, the cursor has not moved
        "outbox.before_send",  # the reply is in the outbox, Parlant not called yet
        "outbox.after_send",  # Parlant stored the reply, the outbox still says pending
        "outbox.before_reaction",  # Parlant stored it, no ✅ yet, the outbox says pending
        "outbox.after_reaction",  # ✅ shown, the outbox still says pending
        "root.before_post",  # the bridge is about to post a pending root message
        "root.after_post",  # Slack accepted the root message, the record has no link yet
        "sla.before_post",  # the notice is marked "attempting", Slack not called yet
        "sla.after_post",  # Slack accepted the notice, the state does not know its ts
        "handback.before_post",  # the session is back with the AI, no thread line yet
        "handback.after_post",  # Slack accepted the thread line, nothing recorded it yet
    }
)

log = logging.getLogger(__name__)


def _armed() -> str | None:
    if os.environ.get(ENABLE_ENV) != "1":
        return None
    return os.environ.get(POINT_ENV) or None


def crash_point(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if _armed() != name:
        return
    log.warning("test crash point %s reached: exiting now", name)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    os._exit(EXIT_STATUS)
