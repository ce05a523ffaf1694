"""The password sign-in's pure parts: the signed session cookie and the guessing throttle.

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
MIN_PASSWORD_CHARS = 12
# Signing key context: a token for this purpose is never valid for another.
_KEY_CONTEXT = b"escalations-dashboard-sign-in-v1"


def signing_key(password: str) -> bytes:
    return hmac.new(password.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


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
    """Backoff on wrong passwords, per client and for everyone.

    Per client: after `free` wrong tries in a row, each next try waits twice as long as the
    one before (1 s, 2 s, 4 s … up to `max_wait_s`); a right password clears the client. For
    everyone: beyond `global_limit` wrong tries in `window_s`, every client waits until the
    window has room again, so guessing from many addresses gains nothing.
    """

    free: int = 3
    max_wait_s: float = 300.0
    global_limit: int = 30
    window_s: float = 60.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)

    def wait_s(self, client: str, now: float) -> float:
        """Seconds the client must wait before its next try is looked at (0: go ahead)."""
        while self._recent and self._recent[0] <= now - self.window_s:
            self._recent.popleft()
        waits = [0.0]
        count, last = self._failures.get(client, (0, 0.0))
        if count >= self.free:
            backoff = min(self.max_wait_s, 2.0 ** (count - self.free))
            waits.append(last + backoff - now)
        if len(self._recent) >= self.global_limit:
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
