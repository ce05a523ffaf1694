"""Customer and guest tokens (agent/customers/identity.py), signed and checked with PyJWT."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from agent.customers.identity import (
    CLOCK_LEEWAY_S,
    GUEST_ISSUER,
    CustomerTokenKey,
    InvalidToken,
    Principal,
    is_guest_customer_id,
    is_guest_token,
    looks_like_jwt,
    mint_customer_token,
    mint_guest_token,
    verify_customer_token,
    verify_guest_token,
)

SECRET = "an-insurer-secret-of-at-least-32-bytes!"
KEY = CustomerTokenKey(key=SECRET, algorithms=("HS256",))


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def in_(seconds: int) -> int:
    return int(time.time()) + seconds


def test_a_minted_customer_token_verifies_as_that_customer() -> None:
    token = mint_customer_token(SECRET, "cust-42", "Sam Carter", 600)
    principal = verify_customer_token(token, KEY)
    assert principal == Principal("customer", "cust-42", "Sam Carter", principal.expires_at)
    assert not principal.is_guest
    assert abs(principal.expires_at - in_(600)) <= 2
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iat"] == claims["exp"] - 600


def test_an_insurer_may_sign_with_another_algorithm() -> None:
    secret = SECRET * 2
    token = mint_customer_token(secret, "cust-42", "Sam", 600, algorithm="HS512")
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    assert (
        verify_customer_token(token, CustomerTokenKey(secret, ("HS512",))).customer_id == "cust-42"
    )


def test_issuer_and_audience_are_checked_when_configured() -> None:
    key = CustomerTokenKey(SECRET, ("HS256",), issuer="insurer", audience="support")
    good = signed({"sub": "c1", "exp": in_(60), "iss": "insurer", "aud": "support"})
    assert verify_customer_token(good, key).customer_id == "c1"
    for claims in (
        {"sub": "c1", "exp": in_(60), "iss": "other", "aud": "support"},
        {"sub": "c1", "exp": in_(60), "iss": "insurer", "aud": "other"},
        {"sub": "c1", "exp": in_(60), "iss": "insurer"},
    ):
        with pytest.raises(InvalidToken, match="not valid"):
            verify_customer_token(signed(claims), key)
    # Without an audience setting a token's own audience is not held against it.
    assert verify_customer_token(signed({"sub": "c1", "exp": in_(60), "aud": "x"}), KEY)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": "c1"}, "not valid (MissingRequiredClaimError)"),
        ({"exp": 4102444800}, "not valid (MissingRequiredClaimError)"),
        ({"sub": 42, "exp": 4102444800}, "not valid (InvalidSubjectError)"),
        ({"sub": "has space", "exp": 4102444800}, "the token's sub is not a customer id"),
        ({"sub": "-leading-dash", "exp": 4102444800}, "the token's sub is not a customer id"),
        ({"sub": "x" * 129, "exp": 4102444800}, "the token's sub is not a customer id"),
        ({"sub": "guest", "exp": 4102444800}, "a customer token may not claim a guest id"),
        ({"sub": "guest-abc", "exp": 4102444800}, "a customer token may not claim a guest id"),
    ],
    # Plain ids: mutmut selects tests by id, and an apostrophe in one stops it from running.
    ids=["no-exp", "no-sub", "numeric-sub", "space", "dash", "too-long", "guest", "guest-prefix"],
)
def test_tokens_claiming_what_they_may_not_are_refused(
    claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify_customer_token(signed(claims), KEY)
    assert str(refused.value).endswith(message)


def test_the_longest_customer_id_is_accepted() -> None:
    customer_id = "a" + "b" * 127
    token = signed({"sub": customer_id, "exp": in_(60)})
    assert verify_customer_token(token, KEY).customer_id == customer_id
    assert verify_customer_token(signed({"sub": "a.b_c@d:e+f-g", "exp": in_(60)}), KEY)


def test_a_token_living_longer_than_allowed_is_refused() -> None:
    key = CustomerTokenKey(SECRET, ("HS256",), max_lifetime_s=600)
    assert verify_customer_token(signed({"sub": "c1", "exp": in_(590)}), key)
    with pytest.raises(InvalidToken) as refused:
        verify_customer_token(signed({"sub": "c1", "exp": in_(620)}), key)
    assert str(refused.value) == "the token lives longer than CUSTOMER_TOKEN_MAX_LIFETIME_MINUTES"


def test_the_default_lifetime_cap_is_a_day() -> None:
    assert verify_customer_token(signed({"sub": "c1", "exp": in_(24 * 3600 - 10)}), KEY)
    with pytest.raises(InvalidToken):
        verify_customer_token(signed({"sub": "c1", "exp": in_(24 * 3600 + 10)}), KEY)


def test_expiry_allows_a_little_clock_skew_only() -> None:
    assert verify_customer_token(signed({"sub": "c1", "exp": in_(-CLOCK_LEEWAY_S + 5)}), KEY)
    with pytest.raises(InvalidToken) as raised:
        verify_customer_token(signed({"sub": "c1", "exp": in_(-CLOCK_LEEWAY_S - 5)}), KEY)
    assert str(raised.value) == "the token has expired"


def test_a_wrong_signature_or_algorithm_is_refused() -> None:
    with pytest.raises(InvalidToken, match=r"not valid \(InvalidSignatureError\)"):
        verify_customer_token(signed({"sub": "c1", "exp": in_(60)}, secret="x" * 40), KEY)
    hs512 = jwt.encode({"sub": "c1", "exp": in_(60)}, SECRET * 2, algorithm="HS512")
    with pytest.raises(InvalidToken, match="InvalidAlgorithmError"):
        verify_customer_token(hs512, KEY)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (None, "Customer"),
        (42, "Customer"),
        ("   ", "Customer"),
        ("\x07\x1b", "Customer"),
        ("  Ana\nMaria\x1b[31m  ", "AnaMaria[31m"),
        ("n" * 150, "n" * 100),
    ],
)
def test_display_names_are_printable_bounded_and_never_empty(name: object, shown: str) -> None:
    token = signed({"sub": "c1", "exp": in_(60), "name": name})
    assert verify_customer_token(token, KEY).name == shown


def test_a_guest_token_is_a_fresh_guest_identity() -> None:
    token, principal = mint_guest_token(SECRET, 900)
    assert principal.is_guest and principal.kind == "guest" and principal.name == "Guest"
    assert principal.customer_id.startswith("guest-") and len(principal.customer_id) == 30
    assert abs(principal.expires_at - in_(900)) <= 2
    assert verify_guest_token(token, SECRET) == principal
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=GUEST_ISSUER)
    assert claims["iat"] == principal.expires_at - 900
    assert mint_guest_token(SECRET, 900)[1].customer_id != principal.customer_id
    assert is_guest_token(token)


def test_guest_tokens_are_checked_for_signature_issuer_and_a_guest_id() -> None:
    token, _ = mint_guest_token(SECRET, 900)
    with pytest.raises(InvalidToken):
        verify_guest_token(token, "y" * 40)
    no_issuer = signed({"sub": "guest-1", "exp": in_(60)})
    with pytest.raises(InvalidToken, match="MissingRequiredClaimError"):
        verify_guest_token(no_issuer, SECRET)
    not_a_guest = signed({"sub": "cust-1", "exp": in_(60), "iss": GUEST_ISSUER})
    with pytest.raises(InvalidToken) as refused:
        verify_guest_token(not_a_guest, SECRET)
    assert str(refused.value) == "the guest token's sub is not a guest id"


def test_telling_guest_tokens_apart_reads_the_issuer_only() -> None:
    assert is_guest_token(signed({"sub": "x", "iss": GUEST_ISSUER}, secret="z" * 40))
    assert not is_guest_token(mint_customer_token(SECRET, "c1", "Sam", 60))
    assert not is_guest_token("not.a.jwt")


def test_guest_ids() -> None:
    assert is_guest_customer_id("guest") and is_guest_customer_id("guest-1")
    assert not is_guest_customer_id("guests") and not is_guest_customer_id("c-guest-1")


def test_what_looks_like_a_jwt() -> None:
    assert looks_like_jwt("a.b.c")
    assert not looks_like_jwt("a.b") and not looks_like_jwt("a.b.c.d")
    assert looks_like_jwt("a.b." + "c" * 8187) and not looks_like_jwt("a.b." + "c" * 8188)
