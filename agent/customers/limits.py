"""Limits on customer callers, per client address, with the `limits` package Parlant uses.

Each anonymous or customer message costs several LLM calls, so floods are a cost problem as
much as a load problem. The address is the peer's, or, when the peer is one of the configured
trusted proxies, the nearest untrusted address in X-Forwarded-For: a header any client can
write is believed only from proxies we run.
"""

from __future__ import annotations

import ipaddress
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from agent.customers.settings import ProxyNetwork


class TooManyRequests(Exception):
    def __init__(self, what: str, retry_after_s: int) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after_s = retry_after_s


def keep_the_connections_peer() -> None:
    """Tells uvicorn (which Parlant starts with its defaults) to believe no X-Forwarded-For.

    uvicorn's proxy headers are on by default and trust 127.0.0.1, so a client on the same
    machine, or a local proxy we were not told about, would have its header written into the
    connection's address before we see it: the address then is whatever the client claims,
    even with CUSTOMER_TRUSTED_PROXIES unset. Only `client_address` decides, from the real peer.
    uvicorn reads this when the server is configured, so call it before the server starts.
    """
    os.environ["FORWARDED_ALLOW_IPS"] = ""


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Iterable[ProxyNetwork]
) -> str:
    """The address a limit counts: the peer's, or past our own proxies, the nearest other hop.

    `forwarded_for` is every X-Forwarded-For header line in the order received. A proxy may
    append its hop as a line of its own (HAProxy's `option forwardfor` does) below the one
    the client wrote, so the lines are one list, as RFC 7239 and uvicorn read them; the first
    line alone is the client's own word.
    """
    trusted = tuple(trusted)
    if peer is None:
        return "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    # Proxies append the address they saw; walk back past our own to the first one we did not
    # add ourselves. Everything left of it was written by the client and proves nothing.
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[ProxyNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class RateLimiter:
    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, item: limits.RateLimitItem, what: str, address: str) -> None:
        """Counts one call; raises TooManyRequests with the wait once the limit is reached."""
        key = f"{what}:{address}"
        if self._limiter.hit(item, key):
            return
        reset_at = self._limiter.get_window_stats(item, key).reset_time
        raise TooManyRequests(what, max(1, math.ceil(reset_at - time.time())))


class LongPolls:
    """Open long polls per address: each one holds a connection and a task on the agent."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    @contextmanager
    def hold(self, address: str) -> Iterator[None]:
        if self._open[address] >= self.per_address:
            raise TooManyRequests("long polls", 5)
        self._open[address] += 1
        try:
            yield
        finally:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]
