"""The test processes' httpx clients share one default TLS context (tests/support/tls_context.py,
installed by tests/conftest.py): what it shares still verifies, and a client that asks for its
own verification gets exactly that."""

from __future__ import annotations

import ssl

import httpx


def context_of(client: httpx.Client) -> ssl.SSLContext:
    context = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    assert isinstance(context, ssl.SSLContext)
    return context


def test_clients_share_the_default_context_and_it_verifies() -> None:
    with httpx.Client() as first, httpx.Client(timeout=3) as second:
        shared = context_of(first)
        assert context_of(second) is shared
    assert shared.verify_mode == ssl.CERT_REQUIRED
    assert shared.check_hostname
    assert shared.cert_store_stats()["x509_ca"] > 0  # the bundle is loaded


def test_a_client_with_its_own_verification_keeps_it() -> None:
    with httpx.Client() as default, httpx.Client(verify=False) as unverified:
        assert context_of(unverified) is not context_of(default)
        assert context_of(unverified).verify_mode == ssl.CERT_NONE
    own = ssl.create_default_context()
    with httpx.Client(verify=own) as pinned:
        assert context_of(pinned) is own
