"""Schemathesis against every HTTP route the agent documents, from its own OpenAPI schema.

One agent with the operator token, signed-in customers, guests and the demo's sample customers.
Cases are drawn by Hypothesis from Parlant's schema (read with the operator token) and sent four
ways: the operator routes with the token and without it, and the customer routes (the gateway's
share of the same paths) with a customer's token, in the header and in the widget's /c/<token>
path, and anonymously. Whoever calls: no 5xx; an operator's answers match the schema; nobody
without the token gets anything but a refusal; a customer never gets another customer's data,
even when handed that customer's session id.

`make test` draws FUZZ_EXAMPLES (default 100) cases per test, the same ones each run; `make fuzz`
forty times as many, fresh each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.transport import Response

from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID
from tests.support.customers import OPERATOR_HEADERS, SIGNED_IN_ENV, customer_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
UNLIMITED = "100000/minute"
FUZZ_ENV = {
    **SIGNED_IN_ENV,
    "CUSTOMER_DEMO": "on",
    "CUSTOMER_TOKEN_RATE": UNLIMITED,
    "CUSTOMER_READ_RATE": UNLIMITED,
    "CUSTOMER_SESSION_RATE": UNLIMITED,
    "CUSTOMER_MESSAGE_RATE": UNLIMITED,
    "CUSTOMER_LISTING_RATE": UNLIMITED,
}
# The gateway's routes: the share of Parlant's paths a customer's token opens.
CUSTOMER_ROUTES = {
    ("GET", "/agents/{agent_id}"),
    ("GET", "/sessions"),
    ("POST", "/sessions"),
    ("GET", "/sessions/{session_id}"),
    ("GET", "/sessions/{session_id}/events"),
    ("POST", "/sessions/{session_id}/events"),
}
OPEN_ROUTES = {("GET", "/healthz")}
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("FUZZ_RANDOM") != "on",
)


@dataclass(frozen=True)
class OtherCustomer:
    """Someone else's session: what a fuzzed customer must never see."""

    customer_id: str
    session_id: str
    secret_text: str

    def leaked_in(self, text: str) -> bool:
        return any(v in text for v in (self.customer_id, self.session_id, self.secret_text))


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "parlant"
    process = AgentProcess(home=home, extra_env=FUZZ_ENV).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def schema(agent: AgentProcess) -> Any:
    document = httpx.get(f"{agent.url}/openapi.json", headers=OPERATOR_HEADERS, timeout=30)
    document.raise_for_status()
    return schemathesis.openapi.from_dict(document.json())


@pytest.fixture(scope="module")
def other(agent: AgentProcess) -> OtherCustomer:
    customer_id = "fuzz-other-customer"
    operator = httpx.Client(base_url=agent.url, headers=OPERATOR_HEADERS, timeout=30)
    operator.post("/customers", json={"id": customer_id, "name": "Other"}).raise_for_status()
    session = operator.post(
        "/sessions",
        params={"allow_greeting": "false"},
        json={"agent_id": AGENT_ID, "customer_id": customer_id},
    ).json()["id"]
    secret = "the other customer's private words 7f3a"
    operator.post(
        f"/sessions/{session}/events",
        json={"kind": "message", "source": "human_agent_on_behalf_of_ai_agent", "message": secret},
    ).raise_for_status()
    return OtherCustomer(customer_id, session, secret)


def operations(schema: Any, routes: set[tuple[str, str]] | None = None) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    if routes is None:
        return found
    return [op for op in found if (op.method.upper(), op.path) in routes]


def bounded(case: Case[Any]) -> Case[Any]:
    """No case may hold a connection open: event listings answer at once (without
    `wait_for_data` they long-poll for a minute) and never stream."""
    if case.method.upper() == "GET" and case.operation.path.endswith("/events"):
        case.query = {**(case.query or {}), "wait_for_data": 0}
        case.query.pop("sse", None)
    return case


def send(case: Case[Any], base_url: str, headers: dict[str, str]) -> Response:
    response: Response = case.call(base_url=base_url, headers=headers, timeout=30)
    return response


def describe(case: Case[Any], response: Response) -> str:
    return f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: {response.text[:500]}"


def test_operator_routes_with_the_token(agent: AgentProcess, schema: Any) -> None:
    ops = operations(schema)
    assert len(ops) > 40  # every route Parlant documents

    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(ops))
        case = bounded(data.draw(operation.as_strategy()))
        response = send(case, agent.url, OPERATOR_HEADERS)
        assert response.status_code < 500, describe(case, response)
        if response.status_code < 300:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

    run()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-operator-token-0123"])
def test_operator_routes_without_the_token(
    agent: AgentProcess, schema: Any, authorization: str | None
) -> None:
    ops = operations(schema)
    headers = {"Authorization": authorization} if authorization else {}

    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(ops))
        case = bounded(data.draw(operation.as_strategy()))
        response = send(case, agent.url, headers)
        if (case.method.upper(), operation.path) in OPEN_ROUTES:
            assert response.status_code == 200, describe(case, response)
        else:
            assert response.status_code == 403, describe(case, response)

    run()


@pytest.mark.parametrize("token_in", ["header", "path"])
def test_customer_routes_with_a_customers_token(
    agent: AgentProcess, schema: Any, other: OtherCustomer, token_in: str
) -> None:
    customer = f"fuzz-customer-{token_in}"
    token = customer_token(customer)
    own = httpx.post(
        f"{agent.url}/sessions",
        json={"agent_id": AGENT_ID},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["id"]
    base_url, headers = (
        (agent.url, {"Authorization": f"Bearer {token}"})
        if token_in == "header"
        else (f"{agent.url}/c/{token}", {})
    )
    ops = operations(schema, CUSTOMER_ROUTES)
    assert len(ops) == len(CUSTOMER_ROUTES)

    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(ops))
        case = bounded(data.draw(operation.as_strategy()))
        if "session_id" in (case.path_parameters or {}):
            # Their own session, the other customer's, or whatever the fuzzer made up.
            chosen = data.draw(st.sampled_from([own, other.session_id, None]))
            if chosen is not None:
                case.path_parameters["session_id"] = chosen
        if "agent_id" in (case.path_parameters or {}) and data.draw(st.booleans()):
            case.path_parameters["agent_id"] = AGENT_ID
        response = send(case, base_url, headers)
        assert response.status_code < 500, describe(case, response)
        assert not other.leaked_in(response.text), describe(case, response)
        if response.status_code < 300:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

    run()


def test_customer_routes_anonymously(
    agent: AgentProcess, schema: Any, other: OtherCustomer
) -> None:
    ops = operations(schema, CUSTOMER_ROUTES)

    @FUZZ_SETTINGS
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(ops))
        case = bounded(data.draw(operation.as_strategy()))
        if "session_id" in (case.path_parameters or {}) and data.draw(st.booleans()):
            case.path_parameters["session_id"] = other.session_id
        response = send(case, agent.url, {})
        assert response.status_code in (401, 403), describe(case, response)
        assert not other.leaked_in(response.text), describe(case, response)

    run()
