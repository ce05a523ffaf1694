"""The widget's refused sessions (agent/customers/refused.py): what their id says, how long
their posts are answered as accepted, and that they keep Parlant's shapes."""

from __future__ import annotations

import pytest
from parlant.client.types.event import Event
from parlant.client.types.session import Session

from agent.customers.refused import (
    ACCEPT_POSTS_S,
    REASONS,
    RefusedSession,
    notice_event,
    parse,
    refused_session,
    session_view,
)

NOW = 1_765_000_000.7


def test_the_id_names_the_reason_the_time_and_the_agent() -> None:
    refused = refused_session("customer", NOW, "insurance-support-agent", 128)
    assert refused.id == "refused-customer-1765000000-insurance-support-agent"
    assert parse(refused.id) == RefusedSession("customer", 1_765_000_000, "insurance-support-agent")
    assert refused.text == REASONS["customer"]


def test_an_agent_id_that_would_make_the_id_too_long_is_left_out() -> None:
    head = "refused-customer-1765000000-"
    refused = refused_session("customer", NOW, "a" * (129 - len(head)), 128)
    assert refused.agent_id == "" and refused.id == "refused-customer-1765000000"
    assert parse(refused.id) == RefusedSession("customer", 1_765_000_000, "")
    kept = refused_session("customer", NOW, "a" * (128 - len(head)), 128)
    assert len(kept.id) == 128 and parse(kept.id) == kept


def test_only_a_known_reason_makes_a_refused_session() -> None:
    with pytest.raises(ValueError):
        refused_session("anything", NOW, "agent", 128)


@pytest.mark.parametrize(
    "session_id",
    [
        "Ab3dE5gH9k",  # a Parlant id
        "refused",
        "refused-",
        "refused-customer",
        "refused-customer-",
        "refused-other-1765000000",
        "refused-customer-17650000x0",
        "refused-customer-²",
        "refused-customer-1234567890123",  # more digits than any time
        "xrefused-customer-1765000000",
    ],
)
def test_other_ids_name_no_refused_session(session_id: str) -> None:
    assert parse(session_id) is None


def test_posts_are_accepted_only_just_after_the_refusal() -> None:
    refused = refused_session("customer", NOW, "agent", 128)
    created = int(NOW)
    assert refused.accepts_posts_at(created)
    assert refused.accepts_posts_at(created + ACCEPT_POSTS_S)
    assert not refused.accepts_posts_at(created + ACCEPT_POSTS_S + 0.5)
    assert not refused.accepts_posts_at(created - 1)


def test_the_views_are_parlants_shapes() -> None:
    """parlant-client (the widget's client is generated from the same schema) parses them."""
    refused = refused_session("customer", NOW, "insurance-support-agent", 128)
    session = Session.model_validate(session_view(refused, "cust-sam"))
    assert (session.id, session.agent_id, session.customer_id) == (
        refused.id,
        "insurance-support-agent",
        "cust-sam",
    )
    assert session.creation_utc.timestamp() == 1_765_000_000
    event = Event.model_validate(notice_event(refused, "Acme assistant"))
    assert (event.kind, event.source, event.offset) == ("message", "system", 0)
    assert event.data == {
        "message": REASONS["customer"],
        "participant": {"display_name": "Acme assistant", "role": "system"},
    }
