"""The garbage-collector policy of the agent and the bridge (config/gc_pauses.py), on this
interpreter's own collector: what survives a full collection leaves the collector's sight, and
is handed back on the hour.

Each check runs in a fresh interpreter that imports only this module: the checks freeze and
hand back everything the process holds and scan every object the collector tracks, which in a
test worker (the whole suite imported) cost seconds of CPU and left that worker's collector
changed for the tests after it."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path

from config.gc_pauses import FrozenSurvivors

REPO_ROOT = Path(__file__).resolve().parents[1]


def in_a_fresh_interpreter(check: Callable[[], Awaitable[None]]) -> None:
    program = (
        f"import asyncio; from {__name__} import {check.__name__}; asyncio.run({check.__name__}())"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


class Node:
    """Tracked by the collector (an instance with a __dict__), and able to form cycles."""

    def __init__(self) -> None:
        self.other: Node | None = None


async def _turn() -> None:
    # Two turns: the callback's call_soon_threadsafe lands in the next one.
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def _install_freezes_what_exists_and_uninstall_hands_it_back() -> None:
    frozen = FrozenSurvivors(asyncio.get_running_loop())
    frozen.install()
    try:
        assert gc.get_freeze_count() > 1000  # the imports' objects, at least
        assert frozen._collected in gc.callbacks
    finally:
        frozen.uninstall()
    assert gc.get_freeze_count() == 0
    assert frozen._collected not in gc.callbacks


async def _survivors_of_a_full_collection_are_frozen_and_garbage_is_not() -> None:
    frozen = FrozenSurvivors(asyncio.get_running_loop())
    frozen.install()
    try:
        survivors = [Node() for _ in range(5000)]
        garbage = Node()
        garbage.other = Node()
        garbage.other.other = garbage  # a cycle only a collection frees
        freed = weakref.ref(garbage)
        del garbage
        gc.collect()
        await _turn()
        assert freed() is None
        # Frozen objects are out of every later collection's walk.
        assert not any(isinstance(o, Node) for o in gc.get_objects())
        assert len(survivors) == 5000
    finally:
        frozen.uninstall()


async def _partial_collections_freeze_nothing() -> None:
    frozen = FrozenSurvivors(asyncio.get_running_loop())
    frozen.install()
    try:
        before = gc.get_freeze_count()
        young = [Node() for _ in range(100)]
        gc.collect(0)
        gc.collect(1)
        await _turn()
        assert gc.get_freeze_count() <= before  # (frozen objects freed since lower it)
        assert sum(isinstance(o, Node) for o in gc.get_objects()) == len(young)
    finally:
        frozen.uninstall()


async def _on_the_hour_frozen_objects_go_back_and_their_cycles_are_freed() -> None:
    frozen = FrozenSurvivors(asyncio.get_running_loop(), release_every_s=3600)
    frozen.install()
    try:
        cycle = Node()
        cycle.other = Node()
        cycle.other.other = cycle
        gc.collect()
        await _turn()
        assert not any(isinstance(o, Node) for o in gc.get_objects())  # frozen, live
        del cycle  # garbage now, but frozen: no collection sees it
        gc.collect()
        await _turn()
        assert gc.get_freeze_count() > 0
        frozen._release_at = 0.0  # the hour is up
        gc.collect()
        await _turn()
        assert gc.get_freeze_count() == 0
        assert sum(isinstance(o, Node) for o in gc.get_objects()) == 2
        assert gc.collect() >= 2  # the frozen cycle, freed once handed back
        assert not any(isinstance(o, Node) for o in gc.get_objects())
    finally:
        frozen.uninstall()


def test_install_freezes_what_exists_and_uninstall_hands_it_back() -> None:
    in_a_fresh_interpreter(_install_freezes_what_exists_and_uninstall_hands_it_back)


def test_survivors_of_a_full_collection_are_frozen_and_garbage_is_not() -> None:
    in_a_fresh_interpreter(_survivors_of_a_full_collection_are_frozen_and_garbage_is_not)


def test_partial_collections_freeze_nothing() -> None:
    in_a_fresh_interpreter(_partial_collections_freeze_nothing)


def test_on_the_hour_frozen_objects_go_back_and_their_cycles_are_freed() -> None:
    in_a_fresh_interpreter(_on_the_hour_frozen_objects_go_back_and_their_cycles_are_freed)
