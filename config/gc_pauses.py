"""Garbage-collector pauses kept off the operator's path.

CPython's full (generation 2) collection walks every object the collector tracks, with the
event loop stopped. Measured in the bridge at 1,000 open escalations: 40 to 54 ms a collection,
most of it the 100,000 objects made by imports (functions, types, module dicts) that live as
long as the process; one landed inside an operator reply (85 ms against a p50 of 11 ms), and at
10,000 the mirrors' own objects triple the walk.

What survives a full collection is live at that instant, so it is moved out of the collector's
sight (`gc.freeze`): the next full collection walks only what was made since. A frozen object
that later becomes garbage is still freed by reference counting the moment its last reference
goes; only one caught in a reference cycle waits, so once an hour (RELEASE_EVERY_S) everything
frozen is handed back (`gc.unfreeze`) and the next full collection frees such cycles: one long
pause an hour instead of one every few seconds under load.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

RELEASE_EVERY_S = 3600.0


class FrozenSurvivors:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, release_every_s: float = RELEASE_EVERY_S
    ) -> None:
        self._loop = loop
        self._release_every_s = release_every_s
        self._release_at = time.monotonic() + release_every_s
        self._pending = False
        self._installed = False

    def install(self) -> None:
        # At start-up nobody waits: one full collection now, then the imports' objects are out
        # of every later one.
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._collected)
        self._installed = True
        # Counting walks every frozen object (25 ms for 275,000): only when it is logged.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("gc: %d objects frozen at start", gc.get_freeze_count())

    def uninstall(self) -> None:
        self._installed = False
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        gc.unfreeze()

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # Collections run in whichever thread allocates (the checkpoint thread, executors):
        # the freeze is done on the loop, once per full collection.
        if phase != "stop" or info.get("generation") != 2 or self._pending:
            return
        self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._after_full_collection)
        except RuntimeError:
            self._pending = False  # the loop is closed: the process is stopping

    def _after_full_collection(self) -> None:
        self._pending = False
        if not self._installed:
            return
        if time.monotonic() >= self._release_at:
            self._release_at = time.monotonic() + self._release_every_s
            gc.unfreeze()
            log.debug("gc: frozen objects handed back to the collector")
            return
        gc.freeze()
