"""The stand-in policy system's customers in Parlant's customer store, so sessions can name them.

Every agent replica makes sure of them as it starts, and replicas start at once: Parlant looks
for the id and then inserts, under a lock of its own process, so a replica may find the
customer missing and then be refused (Parlant's own check saw the other replica's insert, or
the PostgreSQL store refused the id, `CUSTOMER_IDS`). Either way it exists: read it again.
"""

from __future__ import annotations

from parlant.core.common import ItemNotFoundError
from parlant.core.customers import CustomerId, CustomerStore

from agent.store.claims import SAMPLE_CUSTOMERS
from agent.store.event_offsets import OffsetTaken


async def ensure_sample_customers(customers: CustomerStore) -> None:
    for customer_id, name in SAMPLE_CUSTOMERS.items():
        try:
            await customers.read_customer(CustomerId(customer_id))
            continue
        except ItemNotFoundError:
            pass
        try:
            await customers.create_customer(name=name, id=CustomerId(customer_id))
        except (ValueError, OffsetTaken):
            # Another replica made it a moment ago; raises again if it does not exist.
            await customers.read_customer(CustomerId(customer_id))
