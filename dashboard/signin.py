"""The password sign-in's pure parts: the signed session cookie, the known-browser cookie,
the guessing throttle and the tally that keeps its warnings few.

The cookie holds only an expiry time and an HMAC of it, keyed from DASHBOARD_PASSWORD: it is
good in every tab (Slack deep links open new ones) until it expires, and changing the password
signs everyone out. It is set by the sign-in route as HttpOnly, so page scripts never see it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import deque
from dataclasses import dataclass, field

COOKIE_NAME = "escalations_dashboard_auth"
# Set on every sign-in and kept through sign-out: this browser has known the password, so a
# spray of wrong passwords from elsewhere does not hold it back (OWASP's "device cookies").
DEVICE_COOKIE_NAME = "escalations_dashboard_device"
DEVICE_COOKIE_DAYS = 90
MIN_PASSWORD_CHARS = 12
# Signing key context: a token for this purpose is never valid for another.
_KEY_CONTEXT = b"escalations-dashboard-sign-in-v1"
_DEVICE_KEY_CONTEXT = b"escalations-dashboard-known-browser-v1"


def signing_key(password: str) -> bytes:
    return hmac.new(password.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def device_key(password: str) -> bytes:
    """Signs the known-browser cookie: never a sign-in token, and the reverse."""
    return hmac.new(password.encode(), _DEVICE_KEY_CONTEXT, hashlib.sha256).digest()


def issue_token(key: bytes, expires_at: float) -> str:
    expiry = str(int(expires_at))
    mac = hmac.new(key, expiry.encode(), hashlib.sha256).hexdigest()
    return f"{expiry}.{mac}"


def token_expiry(key: bytes, token: str | None, now: float) -> float | None:
    """When a valid, unexpired token expires; None for anything else."""
    if not token or token.count(".") != 1:
        return None
    expiry, mac = token.split(".")
    if not expiry.isdigit():
        return None
    expected = hmac.new(key, expiry.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected) or int(expiry) <= now:
        return None
    return float(expiry)


def password_matches(entered: str, expected: str) -> bool:
    # Constant-time comparison: response timing must not reveal how much of a guess was right.
    return hmac.compare_digest(entered.encode(), expected.encode())


@dataclass
class Throttle:
    """Backoff on wrong passwords, per client and for unknown browsers.

    Per client (address): after `free` wrong tries in a row, each next try waits twice as long
    as the one before (1 s, 2 s, 4 s … up to `max_wait_s`); a right password clears the client.
    Beyond `global_limit` wrong tries in `window_s` from anywhere, browsers that have not
    signed in before (no known-browser cookie) wait until the window has room again, so
    guessing from many addresses gains nothing, while supervisors' own browsers still sign in.
    """

    free: int = 3
    max_wait_s: float = 300.0
    global_limit: int = 30
    window_s: float = 60.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)

    def wait_s(self, client: str, now: float, known_browser: bool = False) -> float:
        """Seconds the client must wait before its next try is looked at (0: go ahead)."""
        while self._recent and self._recent[0] <= now - self.window_s:
            self._recent.popleft()
        waits = [0.0]
        count, last = self._failures.get(client, (0, 0.0))
        if count >= self.free:
            backoff = min(self.max_wait_s, 2.0 ** (count - self.free))
            waits.append(last + backoff - now)
        if len(self._recent) >= self.global_limit and not known_browser:
            waits.append(self._recent[0] + self.window_s - now)
        return max(0.0, math.ceil(max(waits) * 10) / 10)

    def failed(self, client: str, now: float) -> None:
        count, _ = self._failures.get(client, (0, 0.0))
        self._failures[client] = (count + 1, now)
        self._recent.append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            oldest = min(self._failures, key=lambda c: self._failures[c][1])
            del self._failures[oldest]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


@dataclass
class LogTally:
    """At most one log line per `every_s` for a repeated event: the count since the last."""

    every_s: float = 10.0
    _last: float | None = None
    _count: int = 0

    def count(self, now: float) -> int | None:
        """The number to log now (this event included), or None to stay quiet."""
        self._count += 1
        if self._last is not None and now - self._last < self.every_s:
            return None
        self._last, counted, self._count = now, self._count, 0
        return counted
