"""One TLS context for every httpx client a test process makes.

httpx builds a new `ssl.SSLContext` for each client, loading certifi's bundle of some 150
certificates: 26 ms of CPU, and every `httpx.get` is a client. The suite polls local servers
(an agent's /healthz every 0.3 s while it starts, readiness and metrics checks) thousands of
times, all over plain HTTP on 127.0.0.1, so the test processes spent tens of seconds of the
2-core machine loading certificates they never used. A context is safe to share between
clients and threads; this shares the default one (verify=True and no client certificate: the
context httpx builds from certifi's bundle, or from SSL_CERT_FILE or SSL_CERT_DIR when the
environment names one), one per bundle. A test that passes its own `verify` (the TLS tests
against HAProxy) gets what it asked for, as before.

Only the test processes: the agents, bridges and dashboards they start are unchanged.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

from httpx._transports import default as transports

_build = transports.create_ssl_context  # type: ignore[attr-defined]


@functools.cache
def _default_context(trust_env: bool, bundle: tuple[str | None, str | None]) -> ssl.SSLContext:
    # `bundle` is the part of the environment httpx reads: part of the key, never read here.
    return _build(verify=True, cert=None, trust_env=trust_env)


def _shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
    if verify is True and cert is None:
        bundle = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return _default_context(trust_env, bundle if trust_env else (None, None))
    return _build(verify=verify, cert=cert, trust_env=trust_env)


def share_default_context() -> None:
    transports.create_ssl_context = _shared  # type: ignore[attr-defined]
