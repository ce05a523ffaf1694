"""Who a customer caller is: signed customer tokens from the insurer, and our own guest tokens.

The insurer's site has already signed its customer in. Its backend mints a short-lived JWT
(the pattern of Intercom's and Chatwoot's identity verification): `sub` is the customer's id,
`name` their display name, `exp` required. The browser only carries it; it cannot forge one,
so a customer id sent by the browser is never trusted. A visitor who is not signed in asks
the agent for a guest token, signed with the agent's own key: a fresh identity with no
customer data, valid for a bounded time.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jwt

CUSTOMER: Final = "customer"
GUEST: Final = "guest"
GUEST_ID_PREFIX = "guest-"
GUEST_ISSUER = "insurance-support-agent/guest"
# Parlant's own anonymous customer: never an identity a token may claim.
PARLANT_GUEST_ID = "guest"
# Wide enough for the ids insurers use (numbers, UUIDs, emails), narrow enough to be inert in
# a URL, a log line or a Slack message.
# Matched whole (fullmatch): `$` would also accept a final newline, and the id goes into paths.
CUSTOMER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}")
MAX_NAME_CHARS = 100
CLOCK_LEEWAY_S = 30


class InvalidToken(ValueError):
    """The token is malformed, wrongly signed, expired or claims what it may not."""


@dataclass(frozen=True)
class Principal:
    """A customer caller, as proven by a token."""

    kind: Literal["customer", "guest"]
    customer_id: str
    name: str
    expires_at: int

    @property
    def is_guest(self) -> bool:
        return self.kind == GUEST


def is_guest_customer_id(customer_id: str) -> bool:
    return customer_id == PARLANT_GUEST_ID or customer_id.startswith(GUEST_ID_PREFIX)


@dataclass(frozen=True)
class CustomerTokenKey:
    """How the insurer signs customer tokens: a shared secret (HS256) or a public key."""

    # Kept out of repr so a logged settings object never shows it.
    key: str = field(repr=False)
    algorithms: tuple[str, ...]
    issuer: str | None = None
    audience: str | None = None
    max_lifetime_s: int = 24 * 3600


def verify_customer_token(token: str, key: CustomerTokenKey) -> Principal:
    claims = _decode(
        token,
        key.key,
        list(key.algorithms),
        issuer=key.issuer,
        audience=key.audience,
    )
    customer_id = claims.get("sub")
    if not isinstance(customer_id, str) or not CUSTOMER_ID_PATTERN.fullmatch(customer_id):
        raise InvalidToken("the token's sub is not a customer id")
    if is_guest_customer_id(customer_id):
        raise InvalidToken("a customer token may not claim a guest id")
    expires_at = int(claims["exp"])
    if expires_at - time.time() > key.max_lifetime_s:
        raise InvalidToken("the token lives longer than CUSTOMER_TOKEN_MAX_LIFETIME_MINUTES")
    return Principal(CUSTOMER, customer_id, _display_name(claims.get("name")), expires_at)


def mint_customer_token(
    secret: str, customer_id: str, name: str, lifetime_s: int, algorithm: str = "HS256"
) -> str:
    """What an insurer's backend does; used here by the demo's sample customers and the tests."""
    now = int(time.time())
    claims = {"sub": customer_id, "name": name, "iat": now, "exp": now + lifetime_s}
    return jwt.encode(claims, secret, algorithm=algorithm)


def mint_guest_token(secret: str, lifetime_s: int) -> tuple[str, Principal]:
    now = int(time.time())
    principal = Principal(GUEST, GUEST_ID_PREFIX + secrets.token_hex(12), "Guest", now + lifetime_s)
    claims = {
        "sub": principal.customer_id,
        "iss": GUEST_ISSUER,
        "iat": now,
        "exp": principal.expires_at,
    }
    return jwt.encode(claims, secret, algorithm="HS256"), principal


def verify_guest_token(token: str, secret: str) -> Principal:
    claims = _decode(token, secret, ["HS256"], issuer=GUEST_ISSUER, audience=None)
    customer_id = claims.get("sub")
    if not isinstance(customer_id, str) or not customer_id.startswith(GUEST_ID_PREFIX):
        raise InvalidToken("the guest token's sub is not a guest id")
    return Principal(GUEST, customer_id, "Guest", int(claims["exp"]))


def is_guest_token(token: str) -> bool:
    """Whether the token says it is ours (its signature is checked by verify_guest_token)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == GUEST_ISSUER
    except jwt.PyJWTError:
        return False


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and len(value) < 8192


def _decode(
    token: str, key: str, algorithms: list[str], *, issuer: str | None, audience: str | None
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            leeway=CLOCK_LEEWAY_S,
            options={"require": ["exp", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("the token has expired") from error
    except jwt.PyJWTError as error:
        raise InvalidToken(f"the token is not valid ({type(error).__name__})") from error
    return claims


def _display_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        return "Customer"
    # Control characters would break log lines and Slack formatting downstream.
    cleaned = "".join(ch for ch in raw.strip() if ch.isprintable())
    return cleaned[:MAX_NAME_CHARS] or "Customer"
