"""Customers as the insurer's site signs them in: signed tokens, and clients that present them."""

from __future__ import annotations

import httpx
from parlant.client import ParlantClient

from agent.customers.identity import mint_customer_token

CUSTOMER_SECRET = "test-customer-secret-0123456789-abcdefghij"
OPERATOR_TOKEN = "test-operator-token-0123456789"
OPERATOR_HEADERS = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
SIGNED_IN_ENV = {
    "PARLANT_OPERATOR_TOKEN": OPERATOR_TOKEN,
    "CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET,
}


def customer_token(customer_id: str, name: str = "Test Customer", lifetime_s: int = 600) -> str:
    return mint_customer_token(CUSTOMER_SECRET, customer_id, name, lifetime_s)


def guest_token(agent_url: str) -> str:
    answer = httpx.post(f"{agent_url}/customer/guest-token", timeout=10)
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


def token_client(agent_url: str, token: str, forwarded_for: str | None = None) -> ParlantClient:
    """Parlant's own client, as a customer's browser would call: the token and nothing else."""
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return ParlantClient(base_url=agent_url, httpx_client=httpx.Client(headers=headers, timeout=90))


def operator_client(agent_url: str, token: str = OPERATOR_TOKEN) -> ParlantClient:
    return ParlantClient(
        base_url=agent_url,
        httpx_client=httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60),
    )
