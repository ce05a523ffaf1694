"""The physical floor of a channel's customer → Slack wait: what an ideal bridge would achieve
with the same arrivals under one post a second.

The ideal bridge knows every arrival the moment it happens and wastes no slot: each second it
posts a waiting root first (a thread exists only once its root is posted), else the thread
whose oldest waiting message is the oldest, carrying every message that thread has waiting
(coalesced: one post per thread, however many messages). Serving the oldest first is what
minimises the longest wait, so no schedule under the same allowance does better at the tail.

Pure: times in, waits out; the busy-hour bench compares its measured p95 with this one.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    thread: str
    at: float


def ideal_waits(
    roots: Sequence[Arrival], messages: Sequence[Arrival], posts_per_second: float = 1.0
) -> list[float]:
    """Each message's wait (its post's time minus its arrival) under the ideal bridge, in the
    order of `messages`. A message whose thread has no root never becomes postable: it is
    left out, as the bridge could not post it either."""
    interval = 1 / posts_per_second
    root_at = {root.thread: root.at for root in roots}
    order = sorted(range(len(messages)), key=lambda i: messages[i].at)
    pending_roots = deque(sorted(roots, key=lambda r: r.at))
    queued: dict[str, list[int]] = defaultdict(list)
    oldest: list[tuple[float, str]] = []  # (oldest waiting arrival, thread), lazily updated
    posted_root: set[str] = set()
    waits: dict[int, float] = {}
    next_message = 0
    slot = min(
        [r.at for r in roots] + [messages[i].at for i in order if messages[i].thread in root_at],
        default=0.0,
    )

    def admit(now: float) -> None:
        nonlocal next_message
        while next_message < len(order) and messages[order[next_message]].at <= now:
            index = order[next_message]
            thread = messages[index].thread
            if thread in root_at:
                if not queued[thread] and thread in posted_root:
                    heapq.heappush(oldest, (messages[index].at, thread))
                queued[thread].append(index)
            next_message += 1

    while True:
        admit(slot)
        if pending_roots and pending_roots[0].at <= slot:
            thread = pending_roots.popleft().thread
            posted_root.add(thread)
            if queued[thread]:
                heapq.heappush(oldest, (messages[queued[thread][0]].at, thread))
            slot += interval
            continue
        if oldest:
            _, thread = heapq.heappop(oldest)
            for index in queued.pop(thread):
                waits[index] = slot - messages[index].at
            slot += interval
            continue
        upcoming = [pending_roots[0].at] if pending_roots else []
        while next_message < len(order) and messages[order[next_message]].thread not in root_at:
            next_message += 1
        if next_message < len(order):
            upcoming.append(messages[order[next_message]].at)
        if not upcoming:
            break
        slot = max(slot, min(upcoming))
    return [waits[i] for i in range(len(messages)) if i in waits]
