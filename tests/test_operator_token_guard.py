"""The operator-token guard (agent/authorization.py) on a small ASGI app, in-process.

The guard's behaviour against the real agent is in test_authorization.py; these run in
milliseconds, so `make mutation` can run them against every mutant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from parlant.api.authorization import (
    AuthorizationException,
    Operation,
    RateLimitExceededException,
)
from pydantic import BaseModel
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.authorization import (
    MAX_OPERATOR_BODY_BYTES,
    OperatorCheck,
    OperatorTokenPolicy,
    bearer,
    guard_operator_only_paths,
    install_refusal_handlers,
)
from agent.customers.gateway import is_customer_call

TOKEN = "op-token-123"
CUSTOMER_MAX_BODY = 1000
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
REFUSED = {"detail": "this needs the operator token"}


class Claim(BaseModel):
    amount: int


def guarded_app(token: str | None = TOKEN) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/echo-length")
    async def echo_length(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    @app.post("/claims")
    async def claims(claim: Claim) -> PlainTextResponse:
        return PlainTextResponse(str(claim.amount))

    @app.get("/{path:path}")
    async def anything(path: str) -> PlainTextResponse:
        return PlainTextResponse(f"reached /{path}")

    @app.websocket("/logs")
    async def logs(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("log line")
        await websocket.close()

    @app.get("/refuse/{kind}")
    async def refuse(kind: str, request: Request) -> None:
        if kind == "limit":
            raise RateLimitExceededException(request, Operation.LIST_SESSIONS)
        raise AuthorizationException(request, Operation.LIST_SESSIONS)

    app.router.routes.insert(0, app.router.routes.pop())  # /refuse before the catch-all
    install_refusal_handlers(app)
    guard_operator_only_paths(app, token, is_customer_call, CUSTOMER_MAX_BODY)
    return app


# Built for each test: mutmut links a test to the code it reached, and a module-scoped app would be
# built (with its handlers) during the first test only.
@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(guarded_app(), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("path", ["/chat/", "/chat/index.html", "/docs", "/redoc", "/openapi.json"])
def test_parlants_sandbox_and_docs_need_the_token(client: TestClient, path: str) -> None:
    refused = client.get(path, headers={"Authorization": "Bearer wrong"})
    assert (refused.status_code, refused.json()) == (403, REFUSED)
    assert client.get(path).status_code == 403
    allowed = client.get(path, headers=OPERATOR)
    assert (allowed.status_code, allowed.text) == (200, f"reached {path}")


@pytest.mark.parametrize("path", ["/support", "/healthz", "/readyz", "/customer/options", "/c/x/y"])
def test_the_open_paths_pass_without_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert (response.status_code, response.text) == (200, f"reached {path}")


def test_a_customers_bearer_passes_to_the_gateway(client: TestClient) -> None:
    # The gateway (not here) verifies it; anything that is not shaped like one is refused here.
    assert client.get("/sessions", headers={"Authorization": "Bearer a.b.c"}).status_code == 200
    assert client.get("/sessions", headers={"Authorization": "Bearer abc"}).status_code == 403


@pytest.mark.parametrize("path", ["/sessions", "/chatty", "/metrics", "/agents/x"])
def test_every_other_path_needs_the_token(client: TestClient, path: str) -> None:
    refused = client.get(path)
    assert (refused.status_code, refused.json()) == (403, REFUSED)
    assert client.get(path, headers=OPERATOR).text == f"reached {path}"


def test_the_open_paths_are_open_to_reading_only(client: TestClient) -> None:
    assert client.post("/support", content=b"x").status_code == 403
    assert client.head("/healthz").status_code != 403


async def answer_without_reading(
    app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, Any]:
    """The answer's status and JSON body (None if it is not JSON), failing if anything reads
    the request's body."""

    async def receive() -> dict[str, object]:
        raise AssertionError("the body was read")

    statuses: list[int] = []
    body = bytearray()

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(str(message["status"])))
        if message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            assert isinstance(chunk, bytes)
            body.extend(chunk)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return statuses[0], parsed


async def call_without_reading(
    app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> int:
    """The answer's status, failing if anything reads the request's body."""
    status, _ = await answer_without_reading(app, method, path, headers)
    return status


OPERATOR_RAW = (b"authorization", f"Bearer {TOKEN}".encode())


TOO_LARGE_FOR_OPERATORS = {"detail": "the request is larger than 1024 KiB"}
NO_LENGTH = {"detail": "send the body with a Content-Length"}
NO_NUMBER = {"detail": "Content-Length must be a number"}


@pytest.mark.parametrize(
    ("headers", "status", "answer"),
    [
        # Anonymous, on one of Parlant's routes: refused before its body is read.
        ([(b"content-length", b"100000000")], 403, REFUSED),
        ([(b"content-length", b"10")], 403, REFUSED),
        # A customer's body beyond the customers' cap, an operator's beyond theirs.
        (
            [(b"content-length", b"1001"), (b"authorization", b"Bearer a.b.c")],
            413,
            {"detail": "the request is larger than 0 KiB"},  # this test's cap: 1,000 bytes
        ),
        (
            [(b"content-length", str(MAX_OPERATOR_BODY_BYTES + 1).encode()), OPERATOR_RAW],
            413,
            TOO_LARGE_FOR_OPERATORS,
        ),
        ([(b"content-length", b"9" * 40), OPERATOR_RAW], 413, TOO_LARGE_FOR_OPERATORS),
        # More than 12 digits is too large without being read as a number, even zero-padded.
        ([(b"content-length", b"0" * 12 + b"1"), OPERATOR_RAW], 413, TOO_LARGE_FOR_OPERATORS),
        # No length to refuse by, or a length that is no number.
        ([(b"transfer-encoding", b"chunked"), OPERATOR_RAW], 411, NO_LENGTH),
        ([(b"content-length", b"-1"), OPERATOR_RAW], 400, NO_NUMBER),
        ([(b"content-length", b"\xb2"), OPERATOR_RAW], 400, NO_NUMBER),
    ],
)
def test_a_body_is_refused_before_it_is_read(
    headers: list[tuple[bytes, bytes]], status: int, answer: dict[str, str]
) -> None:
    app = guarded_app()
    assert asyncio.run(answer_without_reading(app, "POST", "/sessions", headers)) == (
        status,
        answer,
    )


def test_a_length_of_twelve_digits_is_read_as_a_number() -> None:
    # Zero-padded, as HTTP allows: the guard passes it on (here to a route that answers 405
    # without reading the body).
    app = guarded_app()
    headers = [(b"content-length", b"0" * 11 + b"1"), OPERATOR_RAW]
    assert asyncio.run(call_without_reading(app, "POST", "/sessions", headers)) == 405


def test_without_a_token_set_every_caller_is_an_operator_within_the_cap() -> None:
    # Development (no PARLANT_OPERATOR_TOKEN): Parlant's API is open, and only the body cap applies.
    with TestClient(guarded_app(token=None)) as open_client:
        assert open_client.get("/sessions").text == "reached /sessions"
        body = b"x" * MAX_OPERATOR_BODY_BYTES
        assert open_client.post("/echo-length", content=body).text == str(len(body))
    app = guarded_app(token=None)
    too_large = [(b"content-length", str(MAX_OPERATOR_BODY_BYTES + 1).encode())]
    assert asyncio.run(answer_without_reading(app, "POST", "/sessions", too_large)) == (
        413,
        TOO_LARGE_FOR_OPERATORS,
    )


READ_ONLY = {"detail": "the agent's configuration is its code, declared at start; not set here"}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "PATCH"])
def test_the_agents_configuration_is_read_only_even_for_operators(method: str) -> None:
    app = guarded_app()
    for path in ("/services/x", "/services", "/journeys", "/agents/a", "/guidelines/g/x"):
        answer = asyncio.run(answer_without_reading(app, method, path, [OPERATOR_RAW]))
        assert answer == (403, READ_ONLY), (method, path)
    assert asyncio.run(call_without_reading(app, method, "/servicesx", [OPERATOR_RAW])) != 403


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_agents_configuration_is_read_by_operators(method: str) -> None:
    app = guarded_app()
    headers = [OPERATOR_RAW]
    for path in ("/services/x", "/journeys", "/agents/a"):
        # GET reaches the route; HEAD reaches FastAPI, which has no HEAD route here (405).
        status = asyncio.run(call_without_reading(app, method, path, headers))
        assert status == (200 if method == "GET" else 405), (method, path)


def test_an_invalid_field_is_named_and_not_repeated(client: TestClient) -> None:
    value = "a very long and private value " * 10
    invalid = client.post("/claims", json={"amount": value}, headers=OPERATOR)
    assert invalid.status_code == 422
    assert invalid.json() == {
        "detail": [
            {
                "loc": ["body", "amount"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            }
        ]
    }
    assert "private value" not in invalid.text
    assert client.post("/claims", json={"amount": 12}, headers=OPERATOR).text == "12"


def test_within_its_cap_an_operators_body_is_read(client: TestClient) -> None:
    body = b"x" * MAX_OPERATOR_BODY_BYTES
    assert client.post("/echo-length", content=body, headers=OPERATOR).text == str(len(body))
    assert (
        client.post(
            "/echo-length", content=b"x" * 1000, headers={"Authorization": "Bearer a.b.c"}
        ).text
        == "1000"
    )


def test_the_root_sends_customers_to_their_page_and_operators_to_parlant(
    client: TestClient,
) -> None:
    customer = client.get("/")
    assert customer.status_code == 307 and customer.headers["location"] == "/support"
    assert client.get("/", headers=OPERATOR).text == "reached /"


def test_websockets_need_the_token(client: TestClient) -> None:
    with client.websocket_connect("/logs", headers=OPERATOR) as socket:
        assert socket.receive_text() == "log line"
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/logs"):
        pass
    assert closed.value.code == 1008


def test_refusals_say_only_what_is_missing(client: TestClient) -> None:
    headers = {"Authorization": "Bearer secret.of-the.caller", "Cookie": "session=abc"}
    refused = client.get("/refuse/auth", headers=headers)
    assert (refused.status_code, refused.json()) == (403, REFUSED)
    limited = client.get("/refuse/limit", headers=headers)
    assert limited.status_code == 429
    assert limited.json() == {"detail": "too many requests; try again shortly"}
    assert limited.headers["retry-after"] == "5"
    assert "secret.of-the.caller" not in refused.text + limited.text


def request_with(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [(f"Bearer {TOKEN}", True), (f"Bearer {TOKEN}x", False), (TOKEN, False), (None, False)],
)
def test_the_policy_allows_exactly_the_operator_token(
    authorization: str | None, allowed: bool
) -> None:
    policy = OperatorTokenPolicy(TOKEN)
    request = request_with(authorization)
    assert policy.is_operator(request) is allowed
    assert asyncio.run(policy.check_permission(request, Operation.LIST_SESSIONS)) is allowed
    # Operators are our own processes and customers are limited in the gateway: never here.
    assert asyncio.run(policy.check_rate_limit(request, Operation.LIST_SESSIONS)) is True
    assert policy.name == "operator-token"


@pytest.mark.parametrize("token", [None, ""])
@pytest.mark.parametrize("authorization", [None, "", f"Bearer {TOKEN}", "Bearer None"])
def test_with_no_token_set_every_request_is_an_operators(
    token: str | None, authorization: str | None
) -> None:
    # Development: the escalation routes, the reply route and /metrics are open, as the rest of
    # Parlant's API is then.
    assert OperatorCheck(token)(request_with(authorization)) is True


@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [(f"Bearer {TOKEN}", True), (f"Bearer {TOKEN}x", False), ("", False), (None, False)],
)
def test_with_a_token_set_only_that_bearer_is_an_operators(
    authorization: str | None, allowed: bool
) -> None:
    assert OperatorCheck(TOKEN)(request_with(authorization)) is allowed


def test_bearer() -> None:
    assert bearer("abc") == b"Bearer abc"
