"""How a customer is named on the dashboard: their name, or "Guest". Pure."""

from __future__ import annotations

from collections.abc import Mapping

GUEST = "Guest"


def is_guest(customer_id: str) -> bool:
    """Parlant's own guest customer (`guest`) and the gateway's guests (`guest-<random>`)."""
    return customer_id == "guest" or customer_id.startswith("guest-")


def customer_label(customer_id: str, names: Mapping[str, str]) -> str:
    """The customer's name (from their sign-in token), "Guest" for guests, else the id."""
    if is_guest(customer_id):
        return GUEST
    return names.get(customer_id) or customer_id
