"""The customer door's edges: whose address a limit counts, hostile ids and malformed input.

Two real agents: one reached directly with CUSTOMER_TRUSTED_PROXIES unset, one behind Debian's
HAProxy with the configuration docs/replicas.md prints (`option forwardfor`) and HAProxy's
address trusted. Every test speaks from its own loopback address (127.0.0.0/8 is all the
machine's own), so each one's per-address limits are its own.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.types.session_listing import SessionListing

from agent.customers.refused import REASONS
from agent.store.claims import SAMPLE_CUSTOMER_ID
from tests.support.agent_process import AgentProcess
from tests.support.chat import AGENT_ID
from tests.support.customers import OPERATOR_HEADERS, SIGNED_IN_ENV, customer_token
from tests.support.haproxy import Backend, LoadBalancer, haproxy_binary
from tests.support.waits import eventually

TOKENS_PER_MINUTE = 3
READS_PER_MINUTE = 5
SESSIONS_PER_MINUTE = 2
# HAProxy connects to the agent from 127.0.0.1; clients use other loopback addresses, so
# what HAProxy adds for them is not the trusted proxy's own address.
PROXY_ADDRESS = "127.0.0.1"
_client_addresses = (f"127.0.{n // 250}.{2 + n % 250}" for n in itertools.count())

LIMITED_ENV = {
    **SIGNED_IN_ENV,
    "CUSTOMER_TOKEN_RATE": f"{TOKENS_PER_MINUTE}/minute",
    "CUSTOMER_READ_RATE": f"{READS_PER_MINUTE}/minute",
    "CUSTOMER_DEMO": "on",
}


def client_from(address: str | None = None) -> httpx.Client:
    """A client whose connections come from their own loopback address."""
    transport = httpx.HTTPTransport(local_address=address or next(_client_addresses))
    return httpx.Client(transport=transport, timeout=30)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("edges-direct") / "parlant"
    process = AgentProcess(home=home, extra_env=LIMITED_ENV).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadBalancer]:
    if haproxy_binary() is None:
        pytest.skip("HAProxy is not installed (scripts/ensure_haproxy.sh installs it)")
    home: Path = tmp_path_factory.mktemp("edges-balanced") / "parlant"
    env = {
        **LIMITED_ENV,
        "CUSTOMER_TRUSTED_PROXIES": PROXY_ADDRESS,
        "CUSTOMER_SESSION_RATE": f"{SESSIONS_PER_MINUTE}/minute",
        "CUSTOMER_MAX_LONG_POLLS": "1",
    }
    agent = AgentProcess(home=home, extra_env=env).start()
    proxy: LoadBalancer | None = None
    try:
        proxy = LoadBalancer([Backend("a", agent.port)]).start()
        yield proxy
    finally:
        if proxy is not None:
            proxy.stop()
        agent.stop()


def guest_token_statuses(client: httpx.Client, url: str, forwarded: list[str]) -> list[int]:
    return [
        client.post(f"{url}/customer/guest-token", headers={"X-Forwarded-For": hop}).status_code
        for hop in forwarded
    ]


def test_a_rotating_forwarded_for_does_not_pass_the_limit_through_haproxy(
    balancer: LoadBalancer,
) -> None:
    # HAProxy appends its own X-Forwarded-For line below the one the client wrote.
    rotating = [f"198.51.100.{n}" for n in range(TOKENS_PER_MINUTE + 3)]
    with client_from() as client:
        statuses = guest_token_statuses(client, balancer.url, rotating)
    assert statuses == [200] * TOKENS_PER_MINUTE + [429] * 3
    # Another customer behind the same balancer is counted on their own.
    with client_from() as other:
        assert guest_token_statuses(other, balancer.url, ["198.51.100.1"]) == [200]


def test_a_rotating_forwarded_for_does_not_pass_the_session_limit_through_haproxy(
    balancer: LoadBalancer,
) -> None:
    with client_from() as client:
        token = client.post(f"{balancer.url}/customer/guest-token").json()["token"]
        statuses = [
            client.post(
                f"{balancer.url}/sessions",
                json={"agent_id": AGENT_ID},
                headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": f"192.0.2.{n}"},
            ).status_code
            for n in range(SESSIONS_PER_MINUTE + 2)
        ]
    assert statuses == [201] * SESSIONS_PER_MINUTE + [429] * 2


def test_a_rotating_forwarded_for_does_not_pass_the_long_poll_cap_through_haproxy(
    balancer: LoadBalancer,
) -> None:
    import concurrent.futures

    address = next(_client_addresses)
    with client_from(address) as client:
        token = client.post(f"{balancer.url}/customer/guest-token").json()["token"]
        session = client.post(
            f"{balancer.url}/sessions",
            json={"agent_id": AGENT_ID},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["id"]

    def poll(hop: str) -> int:
        with client_from(address) as poller:
            return poller.get(
                f"{balancer.url}/sessions/{session}/events",
                params={"min_offset": 1_000, "wait_for_data": 3},
                headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": hop},
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        held = pool.submit(poll, "192.0.2.10")
        time.sleep(1)
        extra = poll("192.0.2.11")
        assert (held.result(), extra) == (504, 429)


def test_the_widgets_path_token_stays_out_of_haproxys_access_log(balancer: LoadBalancer) -> None:
    # Issue 27: with `option httplog` the request line, the widget's /c/<token>/ included, was
    # logged whole. The documented log-format logs the path with the token cut out.
    with client_from() as client:
        token = client.post(f"{balancer.url}/customer/guest-token").json()["token"]
        # The token in the query too (as a cursor): the query is not logged either.
        answer = client.get(f"{balancer.url}/c/{token}/sessions", params={"cursor": token})
    assert answer.status_code == 200
    logged = eventually(
        lambda: [line for line in balancer.log().splitlines() if "GET /c/-/sessions " in line],
        what="HAProxy's access log line for the widget's call",
    )
    assert " 200 " in logged[-1], logged
    assert token not in balancer.log()
    assert token.split(".")[1] not in balancer.log()


def test_forwarded_for_from_loopback_is_ignored_without_trusted_proxies(
    direct: AgentProcess,
) -> None:
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise; we do not.
    rotating = [f"203.0.113.{n}" for n in range(TOKENS_PER_MINUTE + 2)]
    with client_from(PROXY_ADDRESS) as client:
        statuses = guest_token_statuses(client, direct.url, rotating)
    assert statuses == [200] * TOKENS_PER_MINUTE + [429] * 2


@dataclass
class Guest:
    """A guest with a session of their own, calling from their own address."""

    agent: AgentProcess
    address: str
    token: str
    session: str

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        """The path exactly as given: httpx would remove a literal `.` segment itself."""
        url = urlsplit(self.agent.url)
        connection = http.client.HTTPConnection(
            url.hostname or "", url.port, timeout=30, source_address=(self.address, 0)
        )
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read().decode()
        finally:
            connection.close()


@pytest.fixture
def guest(direct: AgentProcess) -> Guest:
    address = next(_client_addresses)
    with client_from(address) as client:
        token = client.post(f"{direct.url}/customer/guest-token").json()["token"]
        created = client.post(
            f"{direct.url}/sessions",
            json={"agent_id": AGENT_ID},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert created.status_code == 201, created.text
    return Guest(direct, address, token, created.json()["id"])


def logged_since(agent: AgentProcess, offset: int) -> str:
    return agent.log_path.read_bytes()[offset:].decode(errors="replace")


def log_size(agent: AgentProcess) -> int:
    return agent.log_path.stat().st_size


def assert_nothing_failed(agent: AgentProcess, offset: int) -> None:
    logged = logged_since(agent, offset)
    assert " ERROR " not in logged and "Traceback" not in logged, logged[-3000:]


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/sessions/%2E"),
        ("GET", "/sessions/."),
        ("GET", "/sessions/%2e%2E"),
        ("GET", "/sessions/%2E/events?wait_for_data=0"),
        ("GET", "/sessions/./events?wait_for_data=0"),
        ("POST", "/sessions/%2E/events"),
        ("GET", "/agents/."),
        ("GET", "/agents/%2E"),
        ("GET", "/sessions/%00"),
        ("GET", "/sessions/%0A/events?wait_for_data=0"),
        ("GET", "/sessions/a%3Fb"),
    ],
)
def test_a_path_id_that_is_no_parlant_id_is_not_found(guest: Guest, method: str, path: str) -> None:
    # `.` reached Parlant as `GET /sessions`: every customer's sessions, then a 500.
    offset = log_size(guest.agent)
    body = json.dumps({"kind": "message", "source": "customer", "message": "hi"}).encode()
    status, text = guest.request(method, path, body if method == "POST" else None)
    assert status == 404, text
    assert json.loads(text) == {"detail": "not found"}
    assert_nothing_failed(guest.agent, offset)


def test_session_reads_are_limited_per_address(guest: Guest) -> None:
    statuses = [
        guest.request("GET", f"/sessions/{guest.session}")[0] for _ in range(READS_PER_MINUTE + 2)
    ]
    assert statuses == [200] * READS_PER_MINUTE + [429] * 2
    assert guest.request("GET", f"/agents/{AGENT_ID}")[0] == 429


DEEP = b"[" * 60_000 + b"]" * 60_000
DEEP_OBJECT = b'{"a":' * 20_000 + b"1" + b"}" * 20_000


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "{session}/events", rb'{"kind": "message", "message": "lone \ud800"}'),
        ("POST", "/sessions", rb'{"agent_id": "insurance-support-agent", "title": "\udfff"}'),
        ("POST", "/sessions", rb'{"agent_id": "\ud800"}'),
        ("POST", "/sessions", DEEP[:60_000]),
        ("POST", "{session}/events", DEEP_OBJECT[:60_000]),
        ("POST", "/customer/demo-token", DEEP[:60_000]),
        ("POST", "/customer/demo-token", rb'{"customer_id": "\ud800"}'),
        ("GET", "{session}/events?wait_for_data=0&min_offset=" + "9" * 5000, None),
        ("GET", "{session}/events?wait_for_data=0&min_offset=%C2%B2", None),
        ("GET", "{session}/events?wait_for_data=%D9%A1&min_offset=0", None),
    ],
)
def test_malformed_input_is_a_4xx_with_a_reason_and_no_error(
    guest: Guest, method: str, path: str, body: bytes | None
) -> None:
    offset = log_size(guest.agent)
    status, text = guest.request(method, path.format(session=f"/sessions/{guest.session}"), body)
    assert 400 <= status < 500, text
    assert json.loads(text)["detail"], text
    assert_nothing_failed(guest.agent, offset)


def test_a_customer_id_ending_in_a_newline_is_refused(direct: AgentProcess) -> None:
    # `$` in a pattern also matches before a final newline, which then reached a path.
    token = customer_token("cust-newline\n", "Newline")
    offset = log_size(direct)
    with client_from() as client:
        answer = client.post(
            f"{direct.url}/sessions",
            json={"agent_id": AGENT_ID},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 401, answer.text
    assert "sub" in answer.json()["detail"]
    assert_nothing_failed(direct, offset)


def test_an_id_with_a_newline_forges_no_line_in_the_agents_logs(direct: AgentProcess) -> None:
    # Parlant logs the id of an item it did not find, as it was sent.
    forged = "2026-12-07 01:00:00,000 INFO agent FORGED"
    offset = log_size(direct)
    parlant_log = direct.home / "parlant.log"
    parlant_offset = parlant_log.stat().st_size if parlant_log.exists() else 0
    with client_from() as client:
        answer = client.get(
            f"{direct.url}/agents/x%0A{forged.replace(' ', '%20')}%00",
            headers={"Authorization": f"Bearer {SIGNED_IN_ENV['PARLANT_OPERATOR_TOKEN']}"},
        )
    assert answer.status_code == 404
    for written in (
        logged_since(direct, offset),
        parlant_log.read_bytes()[parlant_offset:].decode() if parlant_log.exists() else "",
    ):
        assert "FORGED" in written  # the id was logged, escaped
        assert "\x00" not in written
        assert not any(line.startswith(forged) for line in written.splitlines()), written


def test_a_guests_agent_id_that_is_no_parlant_id_never_reaches_parlant(guest: Guest) -> None:
    offset = log_size(guest.agent)
    body = json.dumps({"agent_id": "no-such-agent/../x y"}).encode()
    status, text = guest.request("POST", "/sessions", body)
    assert status == 422, text
    assert "agent_id" in json.loads(text)["detail"]
    assert "no-such-agent" not in logged_since(guest.agent, offset)  # Parlant never saw it


def test_the_demo_with_the_insurers_secret_is_said_at_start(direct: AgentProcess) -> None:
    # Issue 27 (13): the sample customers' tokens are then signed with the insurer's own key.
    # Accepted for staging (docs/security.md), never quietly.
    started = direct.log_path.read_text()
    assert "CUSTOMER_DEMO=on with CUSTOMER_TOKEN_SECRET" in started


def official_client(agent: AgentProcess, token: str) -> ParlantClient:
    """parlant-client as a customer's browser would use it, from its own address."""
    transport = httpx.HTTPTransport(local_address=next(_client_addresses))
    http = httpx.Client(
        transport=transport, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return ParlantClient(base_url=agent.url, httpx_client=http)


def test_the_official_client_reads_the_agent_and_pages_its_sessions(direct: AgentProcess) -> None:
    # Issue 27 (14): agents.retrieve failed to parse the customer's view; sessions.list(limit=2)
    # answered a plain list of all, and sort, agent_id and labels were silently ignored.
    client = official_client(direct, customer_token("edges-pager"))
    agent = client.agents.retrieve(AGENT_ID)
    assert (agent.id, agent.tags) == (AGENT_ID, [])
    created = [client.sessions.create(agent_id=AGENT_ID, title=f"chat {n}").id for n in range(3)]

    first = client.sessions.list(limit=2, sort="asc")
    assert isinstance(first, SessionListing)
    assert [s.id for s in first.items] == created[:2] and first.has_more
    assert first.next_cursor is not None
    rest = client.sessions.list(limit=2, sort="asc", cursor=first.next_cursor)
    assert isinstance(rest, SessionListing)
    assert [s.id for s in rest.items] == created[2:] and not rest.has_more

    newest_first = client.sessions.list(sort="desc")
    assert isinstance(newest_first, list)
    assert [s.id for s in newest_first] == created[::-1]
    assert client.sessions.list(agent_id="another-agent") == []
    with pytest.raises(ApiError) as refused:
        client.sessions.list(labels=["vip"])
    assert refused.value.status_code == 403
    with pytest.raises(ApiError) as other:
        client.sessions.list(customer_id=SAMPLE_CUSTOMER_ID)
    assert other.value.status_code == 403


def test_the_widgets_first_message_refused_is_said_in_its_session_once(
    direct: AgentProcess,
) -> None:
    token = customer_token("edges-too-long")
    transport = httpx.HTTPTransport(local_address=next(_client_addresses))
    widget = ParlantClient(
        base_url=f"{direct.url}/c/{token}", httpx_client=httpx.Client(transport=transport)
    )
    session = widget.sessions.create(agent_id=AGENT_ID).id
    too_long = "x" * 4001
    notice = widget.sessions.create_event(
        session, kind="message", source="customer", message=too_long
    )
    assert notice.source == "human_agent_on_behalf_of_ai_agent"
    assert (notice.data or {})["message"] == (
        "Your message was not sent: the message is 4,001 characters; the limit is 4,000. "
        "Please shorten it or send it in parts."
    )
    # Once: the session has a message now, and the widget shows refusals of later ones by
    # keeping them in its box.
    with pytest.raises(ApiError) as refused:
        widget.sessions.create_event(session, kind="message", source="customer", message=too_long)
    assert refused.value.status_code == 413
    # With the token in a header it is the plain 413 from the start, nothing stored.
    other = official_client(direct, token).sessions
    plain = other.create(agent_id=AGENT_ID).id
    with pytest.raises(ApiError) as header_refused:
        other.create_event(plain, kind="message", source="customer", message=too_long)
    assert header_refused.value.status_code == 413
    assert other.list_events(plain, wait_for_data=0) == []


def test_a_session_for_another_customer_is_refused_where_the_caller_can_show_it(
    direct: AgentProcess,
) -> None:
    # Issue 27 (14): the widget drops a refused session creation, and the customer's first
    # message with it. Its calls (the token in the path) get a session that says why; clients
    # that send the token in a header get the 403.
    token = customer_token("edges-named-another")
    with pytest.raises(ApiError) as refused:
        official_client(direct, token).sessions.create(
            agent_id=AGENT_ID, customer_id=SAMPLE_CUSTOMER_ID
        )
    assert refused.value.status_code == 403

    transport = httpx.HTTPTransport(local_address=next(_client_addresses))
    widget = ParlantClient(
        base_url=f"{direct.url}/c/{token}", httpx_client=httpx.Client(transport=transport)
    )
    session = widget.sessions.create(agent_id=AGENT_ID, customer_id=SAMPLE_CUSTOMER_ID)
    assert session.id.startswith("refused-customer-")
    assert (session.customer_id, session.agent_id) == ("edges-named-another", AGENT_ID)
    # As the widget does next: its opening and first message are taken, and not stored.
    for source in ("human_agent_on_behalf_of_ai_agent", "customer"):
        widget.sessions.create_event(session.id, kind="message", source=source, message="hi")
    assert widget.sessions.retrieve(session.id).id == session.id
    events = widget.sessions.list_events(session.id, min_offset=0, wait_for_data=0)
    assert [(e.kind, (e.data or {})["message"]) for e in events] == [
        ("message", REASONS["customer"])
    ]
    assert widget.sessions.list_events(session.id, min_offset=1, wait_for_data=0) == []

    operator = ParlantClient(
        base_url=direct.url, httpx_client=httpx.Client(headers=OPERATOR_HEADERS, timeout=30)
    )
    everyone = operator.sessions.list()
    assert isinstance(everyone, list)
    assert not [s for s in everyone if s.customer_id == "edges-named-another"]
