"""The agent's settings for customer callers: identity, guests, the demo, origins and limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import limits

from agent.customers.identity import CustomerTokenKey
from config import EnvReader, SettingsError
from config.secret_files import read_or_create_secret

MIN_SECRET_CHARS = 32
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA")
GUEST_SECRET_FILE = "guest_token_secret"
DEMO_SECRET_FILE = "demo_customer_token_secret"

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateLimits:
    """Per client address; the `limits` package's notation, e.g. 10/minute."""

    sessions: limits.RateLimitItem
    messages: limits.RateLimitItem
    listings: limits.RateLimitItem
    # Session and agent reads: each one a call into Parlant, and an unknown session id a
    # store lookup, so guessing ids costs the guesser.
    reads: limits.RateLimitItem
    tokens: limits.RateLimitItem
    long_polls: int


@dataclass(frozen=True)
class CustomerSettings:
    # Kept out of repr so a logged settings object never shows them.
    token_secret: str | None = field(repr=False)
    token_public_key_file: Path | None
    token_issuer: str | None
    token_audience: str | None
    token_max_lifetime_s: int
    guests: bool
    guest_token_lifetime_s: int
    guest_secret: str | None = field(repr=False)
    demo: bool
    allowed_origins: tuple[str, ...]
    trusted_proxies: tuple[ProxyNetwork, ...]
    max_message_chars: int
    limits: RateLimits

    @classmethod
    def from_env(cls, env: EnvReader) -> CustomerSettings:
        secret = env.secret(
            "CUSTOMER_TOKEN_SECRET",
            MIN_SECRET_CHARS,
            "shared with the backend that signs customers in",
        )
        public_key = env.optional_str("CUSTOMER_TOKEN_PUBLIC_KEY_FILE")
        if secret and public_key:
            raise SettingsError(
                "CUSTOMER_TOKEN_SECRET and CUSTOMER_TOKEN_PUBLIC_KEY_FILE are both set; "
                "set only the one your backend signs customer tokens with"
            )
        public_key_file = Path(public_key).expanduser() if public_key else None
        if public_key_file is not None and not public_key_file.is_file():
            raise SettingsError(
                f"CUSTOMER_TOKEN_PUBLIC_KEY_FILE={public_key!r} is not a file; "
                "set the path of the PEM public key that verifies customer tokens"
            )
        guest_secret = env.secret(
            "CUSTOMER_GUEST_SECRET", MIN_SECRET_CHARS, "or leave it empty to have one generated"
        )
        return cls(
            token_secret=secret,
            token_public_key_file=public_key_file,
            token_issuer=env.optional_str("CUSTOMER_TOKEN_ISSUER"),
            token_audience=env.optional_str("CUSTOMER_TOKEN_AUDIENCE"),
            token_max_lifetime_s=_minutes(env, "CUSTOMER_TOKEN_MAX_LIFETIME_MINUTES", 24 * 60),
            guests=_on_off(env, "CUSTOMER_GUESTS", True),
            guest_token_lifetime_s=_minutes(env, "CUSTOMER_GUEST_TOKEN_MINUTES", 24 * 60),
            guest_secret=guest_secret,
            demo=_on_off(env, "CUSTOMER_DEMO", False),
            allowed_origins=_origins(env, "CUSTOMER_ALLOWED_ORIGINS"),
            trusted_proxies=_networks(env, "CUSTOMER_TRUSTED_PROXIES"),
            max_message_chars=_count(env, "CUSTOMER_MAX_MESSAGE_CHARS", 4000),
            limits=RateLimits(
                sessions=_rate(env, "CUSTOMER_SESSION_RATE", "10/minute"),
                messages=_rate(env, "CUSTOMER_MESSAGE_RATE", "30/minute"),
                listings=_rate(env, "CUSTOMER_LISTING_RATE", "240/minute"),
                reads=_rate(env, "CUSTOMER_READ_RATE", "120/minute"),
                tokens=_rate(env, "CUSTOMER_TOKEN_RATE", "10/minute"),
                long_polls=_count(env, "CUSTOMER_MAX_LONG_POLLS", 6),
            ),
        )


@dataclass(frozen=True)
class SigningKeys:
    """The keys in force once the agent's home is known (generated secrets live there)."""

    customer: CustomerTokenKey | None
    guest_secret: str | None = field(repr=False)
    # The demo mints sample customers' tokens with the same key that verifies them.
    demo_secret: str | None = field(repr=False)


def load_signing_keys(settings: CustomerSettings, home: Path) -> SigningKeys:
    customer: CustomerTokenKey | None = None
    demo_secret: str | None = None
    if settings.token_secret:
        customer = _customer_key(settings, settings.token_secret, ("HS256",))
    elif settings.token_public_key_file is not None:
        pem = settings.token_public_key_file.read_text(encoding="utf-8")
        customer = _customer_key(settings, pem, PUBLIC_KEY_ALGORITHMS)
    elif settings.demo:
        demo_secret = read_or_create_secret(
            home / DEMO_SECRET_FILE, "the demo's customer-token key", "CUSTOMER_TOKEN_SECRET"
        )
        customer = _customer_key(settings, demo_secret, ("HS256",))
    if settings.demo and settings.token_secret:
        demo_secret = settings.token_secret
    guest_secret = None
    if settings.guests:
        guest_secret = settings.guest_secret or read_or_create_secret(
            home / GUEST_SECRET_FILE, "the guest-token key", "CUSTOMER_GUEST_SECRET"
        )
    return SigningKeys(customer=customer, guest_secret=guest_secret, demo_secret=demo_secret)


def _customer_key(
    settings: CustomerSettings, key: str, algorithms: tuple[str, ...]
) -> CustomerTokenKey:
    return CustomerTokenKey(
        key,
        algorithms,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        max_lifetime_s=settings.token_max_lifetime_s,
    )


def _on_off(env: EnvReader, name: str, default: bool) -> bool:
    value = env.choice(name, ("on", "off"), default="on" if default else "off")
    return value == "on"


def _minutes(env: EnvReader, name: str, default: int) -> int:
    return int(_count(env, name, default)) * 60


def _count(env: EnvReader, name: str, default: int) -> int:
    raw = env.optional_str(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} is not a positive whole number; set e.g. {default}")
    return int(raw)


def _rate(env: EnvReader, name: str, default: str) -> limits.RateLimitItem:
    raw = env.optional_str(name) or default
    try:
        return limits.parse(raw)
    except ValueError as error:
        raise SettingsError(
            f"{name}={raw!r} is not a rate; set e.g. {default} (count/second|minute|hour|day)"
        ) from error


def _origins(env: EnvReader, name: str) -> tuple[str, ...]:
    raw = env.optional_str(name)
    if raw is None:
        return ()
    origins = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise SettingsError(
                f"{name} has {item!r}, which is not an origin; set e.g. "
                "https://www.example-insurer.com,https://app.example-insurer.com"
            )
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(origins)


def _networks(env: EnvReader, name: str) -> tuple[ProxyNetwork, ...]:
    raw = env.optional_str(name)
    if raw is None:
        return ()
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as error:
            raise SettingsError(
                f"{name} has {item!r}, which is not an address or network; set e.g. "
                "10.0.0.5,10.1.0.0/16 (the load balancers in front of the agent)"
            ) from error
    return tuple(networks)
