"""Is a port free? Checked before anything starts, so a busy port is one line naming its setting.

Without this, a busy PARLANT_TOOL_PORT made the agent exit silently, a busy PARLANT_PORT buried
`Errno 98` in a hundred lines of traceback, and a busy DASHBOARD_PORT was said only after the
banner announced the URLs. A check can race with another program taking the port a moment
later; the servers' own errors remain for that case.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from config.env import SettingsError


@dataclass(frozen=True)
class Listener:
    """One port a process will listen on, and the setting that chooses it."""

    what: str  # e.g. "the agent (Parlant)"
    setting: str  # e.g. "PARLANT_PORT"
    host: str
    port: int


def bind_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on now, or None when it can."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        return f"host {host!r} does not resolve ({error.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the servers do (uvicorn, aiohttp, tornado): a port in TIME_WAIT is not busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "already in use"
            if error.errno == errno.EACCES:
                return "not allowed for this user (ports below 1024 need privileges)"
            if error.errno == errno.EADDRNOTAVAIL:
                return f"host {host!r} is not an address of this machine"
            return error.strerror or repr(error)
    return None


def describe(listener: Listener, problem: str) -> str:
    return (
        f"{listener.setting}={listener.port} for {listener.what} on {listener.host}: "
        f"{problem}; stop whatever uses it or set {listener.setting} to a free port"
    )


def check_listeners(listeners: Iterable[Listener]) -> None:
    """Raise SettingsError for the first port two listeners share or that cannot be bound."""
    chosen = list(listeners)
    seen: dict[int, Listener] = {}
    for listener in chosen:
        other = seen.get(listener.port)
        if other is not None:
            raise SettingsError(
                f"{listener.setting}={listener.port} is also {other.setting}; "
                f"set {listener.setting} to another port"
            )
        seen[listener.port] = listener
    for listener in chosen:
        problem = bind_problem(listener.host, listener.port)
        if problem is not None:
            raise SettingsError(describe(listener, problem))
