"""Serving beyond this machine without the protection that makes it safe stops the start.

The agent without PARLANT_OPERATOR_TOKEN gives anyone who reaches its port every operator
call (read every session, post as an operator, stream the log); the dashboard without
DASHBOARD_PASSWORD shows every transcript. On 127.0.0.1 that is a developer's machine; on any
other address it is everyone on the network, so a non-loopback bind needs the protection, or an
explicit override for a network that is itself the protection (a private one behind a proxy
that signs people in, or the dashboard's OIDC sign-in).
"""

from __future__ import annotations

import ipaddress

from config.env import SettingsError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost, or "" (every address)


def check_exposure(
    *, host_setting: str, host: str, protected: bool, protection: str, override_setting: str
) -> None:
    """Raises SettingsError (one line naming the settings) for an unprotected public bind."""
    if protected or is_loopback(host):
        return
    raise SettingsError(
        f"{host_setting}={host!r} serves beyond this machine without {protection}; "
        f"set {protection}, or {host_setting}=127.0.0.1, or {override_setting}=on to serve "
        "it unprotected on purpose"
    )
