"""The URLs the processes use to reach each other, derived from hosts and ports unless set.

`PARLANT_PORT=8801` alone must move the agent, the dashboard's and the bridge's idea of it and
the launcher's banner together; an explicit PARLANT_URL / DASHBOARD_URL (a proxy, a public
name) still wins.
"""

from __future__ import annotations

from config.env import EnvReader

DEFAULT_PARLANT_PORT = 8800
DEFAULT_DASHBOARD_PORT = 8501
LOOPBACK = "127.0.0.1"


def local_url(host: str, port: int) -> str:
    """How a process on this machine reaches a server bound to `host:port`."""
    if host in ("", "0.0.0.0", "::"):
        host = LOOPBACK  # bound to every address: loopback is one of them
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


def parlant_url(env: EnvReader) -> str:
    derived = local_url(
        env.string("PARLANT_HOST", LOOPBACK), env.port("PARLANT_PORT", DEFAULT_PARLANT_PORT)
    )
    return env.url("PARLANT_URL", derived)


def dashboard_url(env: EnvReader) -> str:
    derived = local_url(
        env.string("DASHBOARD_HOST", LOOPBACK), env.port("DASHBOARD_PORT", DEFAULT_DASHBOARD_PORT)
    )
    return env.url("DASHBOARD_URL", derived)
