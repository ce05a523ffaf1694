"""Who may do what on Parlant's API once PARLANT_OPERATOR_TOKEN is set.

Out of the box anyone who can reach the Parlant port may post as a human operator, switch
modes and read every session. With an operator token, callers without it keep only what a
customer in the chat needs: start a guest session, read that session and its events, and
write as the customer. Everything an operator does (human and on-behalf messages, notes, mode
and metadata updates, listing sessions and customers) needs `Authorization: Bearer <token>`,
which the bridge and the dashboard send.

A guest session has no login; knowing its id (random, unguessable) is what lets a customer
read it, as in Parlant's own production policy.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from parlant.api.authorization import AuthorizationPolicy, Operation

CUSTOMER_OPERATIONS: frozenset[Operation] = frozenset(
    {
        Operation.ACCESS_INTEGRATED_UI,
        Operation.READ_AGENT,
        Operation.CREATE_GUEST_SESSION,
        Operation.READ_SESSION,
        Operation.LIST_EVENTS,
        Operation.READ_EVENT,
        Operation.CREATE_CUSTOMER_EVENT,
        Operation.CREATE_STATUS_EVENT,
    }
)


class OperatorTokenPolicy(AuthorizationPolicy):
    def __init__(self, operator_token: str) -> None:
        self._expected = f"Bearer {operator_token}".encode()

    def is_operator(self, request: Request) -> bool:
        presented = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(presented, self._expected)

    async def check_permission(self, request: Request, operation: Operation) -> bool:
        return operation in CUSTOMER_OPERATIONS or self.is_operator(request)

    async def check_rate_limit(self, request: Request, operation: Operation) -> bool:
        return True

    @property
    def name(self) -> str:
        return "operator-token"
