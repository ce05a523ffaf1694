"""Canned replies in the agent: the placeholder filling (pure), the store on SQLite and on
PostgreSQL, and the operator routes on a real agent (agent/canned_route.py): kept by
supervisors, filled for one customer, never handed out half-filled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from parlant.client import ParlantClient

from agent.canned_text import (
    BODY_LIMIT,
    TITLE_LIMIT,
    customer_values,
    fill,
    matches,
    placeholders,
    reply_problem,
)
from agent.store.canned_replies import CannedDraft, CannedReplies, SqliteCannedReplies
from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, wait_for_ai_reply

SAM = customer_values("Sam Carter", "POL-1001")

# -- filling (pure) ---------------------------------------------------------------------------


def test_every_placeholder_is_filled_from_the_customers_data() -> None:
    body = (
        "Hi {first_name}, this is about {policy_number} for {customer_name}. Thanks {first_name}!"
    )
    filled = fill(body, SAM)
    assert filled.text == "Hi Sam, this is about POL-1001 for Sam Carter. Thanks Sam!"
    assert filled.problem is None
    assert placeholders(body) == ("first_name", "policy_number", "customer_name")


def test_a_missing_value_fills_nothing_and_says_which() -> None:
    guest = customer_values(None, None)
    filled = fill("Hi {first_name}, your policy {policy_number}.", guest)
    assert filled.text is None
    assert filled.missing == ("first_name", "policy_number")
    assert filled.problem is not None and "{policy_number}" in filled.problem
    named_without_policy = customer_values("  Ana   Lima ", "")
    assert named_without_policy["customer_name"] == "Ana Lima"
    assert fill("Hi {first_name}", named_without_policy).text == "Hi Ana"
    assert fill("Policy {policy_number}", named_without_policy).missing == ("policy_number",)


def test_an_unknown_placeholder_fills_nothing() -> None:
    filled = fill("Hi {customer name}, {policy_number}", SAM)
    assert filled.text is None and filled.unknown == ("customer name",)
    assert filled.problem is not None and "{customer name}" in filled.problem


def test_a_value_with_braces_is_not_filled_again() -> None:
    odd = customer_values("{policy_number}", "POL-1")
    assert fill("Dear {customer_name}", odd).text == "Dear {policy_number}"


def test_spaces_inside_the_braces_are_allowed_and_text_without_placeholders_is_kept() -> None:
    assert fill("Hi { first_name }", SAM).text == "Hi Sam"
    assert fill("Thanks for waiting.", customer_values(None, None)).text == "Thanks for waiting."


def test_what_a_supervisor_may_save() -> None:
    assert reply_problem("Greeting", "Hi {first_name}", "") is None
    assert reply_problem("", "Hi", "") is not None
    assert reply_problem("x" * (TITLE_LIMIT + 1), "Hi", "") is not None
    assert reply_problem("T", " ", "") is not None
    assert reply_problem("T", "x" * (BODY_LIMIT + 1), "") is not None
    assert reply_problem("T", "Hi", 3) is not None
    unknown = reply_problem("T", "Hi {name}", "")
    assert unknown is not None and "{name}" in unknown and "{first_name}" in unknown


def test_search_needs_every_word_in_any_field_ignoring_case() -> None:
    assert matches("", "anything")
    assert matches("claim DELAY", "Claim status", "Claims", "sorry for the delay")
    assert not matches("claim refund", "Claim status", "Claims", "sorry for the delay")


# -- the store ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CannedReplies]:
    replies: CannedReplies
    if request.param == "sqlite":
        replies = SqliteCannedReplies(tmp_path / "canned.sqlite3")
    else:
        from agent.store.postgres_canned_replies import PostgresCannedReplies

        replies = PostgresCannedReplies(request.getfixturevalue("postgres_url"))
        for reply in replies.all():  # the module's database is shared by its tests
            replies.remove(reply.id)
    yield replies
    replies.close()


def test_the_store_keeps_edits_and_deletes(store: CannedReplies) -> None:
    first = store.add(CannedDraft(" Welcome ", "Hi {first_name}", "", "Sam"))
    second = store.add(CannedDraft("Delay", "Sorry for the wait.", "Claims", ""))
    assert first.title == "Welcome" and first.updated_by == "Sam"
    assert [r.title for r in store.all()] == ["Welcome", "Delay"]  # by category, then title
    changed = store.replace(
        first.id, CannedDraft("Welcome back", "Hello {first_name}", "Hi", "Lee")
    )
    assert changed is not None and store.get(first.id) == changed
    assert store.replace("no-such-id", CannedDraft("T", "B", "", "")) is None
    assert store.remove(second.id)
    assert not store.remove(second.id)
    assert [r.id for r in store.all()] == [first.id]


# -- the routes on a real agent ---------------------------------------------------------------
# The suite's shared agent, without an operator token (every caller is an operator there); the
# token's refusals are in tests/test_authorization.py, on the agent that has one.


def api(agent: AgentProcess) -> httpx.Client:
    return httpx.Client(base_url=agent.url, timeout=30)


def test_supervisors_keep_replies_through_the_routes(agent: AgentProcess) -> None:
    with api(agent) as http:
        made = http.post(
            "/escalations/canned-replies",
            json={
                "title": "Policy check",
                "body": "Hi {first_name}, {policy_number}.",
                "by": "Lee",
            },
        )
        assert made.status_code == 201, made.text
        reply = made.json()
        assert reply["category"] == "" and reply["updated_by"] == "Lee"
        refused = http.post(
            "/escalations/canned-replies", json={"title": "Bad", "body": "Hi {nmae}"}
        )
        assert refused.status_code == 422 and "{nmae}" in refused.json()["detail"]
        assert http.post("/escalations/canned-replies", content=b"[").status_code == 422

        path = f"/escalations/canned-replies/{reply['id']}"
        edited = http.put(
            path, json={"title": "Policy", "body": "Dear {customer_name}", "category": "Policy"}
        )
        assert edited.status_code == 200 and edited.json()["body"] == "Dear {customer_name}"
        assert http.get(path).json()["category"] == "Policy"
        found = http.get("/escalations/canned-replies", params={"q": "dear policy"}).json()
        assert [r["id"] for r in found["items"]] == [reply["id"]]
        assert http.get("/escalations/canned-replies", params={"q": "refund xyz"}).json() == {
            "items": []
        }
        assert http.put(path, json={"title": "", "body": "x"}).status_code == 422
        assert http.delete(path).status_code == 204
        assert http.delete(path).status_code == 404
        assert http.get(path).status_code == 404
        assert http.put(path, json={"title": "T", "body": "B"}).status_code == 404


def test_a_reply_is_filled_for_the_sessions_customer_or_not_at_all(
    agent: AgentProcess, client: ParlantClient
) -> None:
    sam = new_session(client, SAMPLE_CUSTOMER_ID)
    # A customer the policy system does not know: a name on record, no policy.
    ana = client.customers.create(name="Ana Lima").id
    ana_session = new_session(client, ana)
    with api(agent) as http:
        named = http.post(
            "/escalations/canned-replies", json={"title": "Name", "body": "Thanks, {first_name}!"}
        ).json()
        # With the AI still: a reply would be refused, so nothing is filled.
        early = http.get(f"/escalations/{sam}/canned-replies/{named['id']}")
        assert early.status_code == 409 and early.json()["status"] is None
        for session in (sam, ana_session):
            wait_for_ai_reply(client, session, say(client, session, "I want a human"))

        both = http.post(
            "/escalations/canned-replies",
            json={"title": "Both", "body": "Hi {first_name} ({customer_name}), {policy_number}."},
        ).json()
        filled = http.get(f"/escalations/{sam}/canned-replies/{both['id']}")
        assert filled.status_code == 200, filled.text
        assert filled.json() == {
            "id": both["id"],
            "title": "Both",
            "text": "Hi Sam (Sam Carter), POL-1001.",
        }
        unfilled = http.get(f"/escalations/{ana_session}/canned-replies/{both['id']}")
        assert unfilled.status_code == 422
        assert unfilled.json()["missing"] == ["policy_number"]
        assert "text" not in unfilled.json()
        assert (
            http.get(f"/escalations/{ana_session}/canned-replies/{named['id']}").json()["text"]
            == "Thanks, Ana!"
        )
        assert http.get(f"/escalations/no-such/canned-replies/{named['id']}").status_code == 404
        assert http.get(f"/escalations/{sam}/canned-replies/no-such").status_code == 404
