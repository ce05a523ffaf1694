"""The official Parlant chat widget (npm parlant-chat-react) in chromium against the real agent.

With the operator token on, an insurer's page on an allowed origin embeds the widget with a
customer token in its `server` path (`<agent>/c/<token>`): the customer chats, hands off and sees
the operator's reply, and the raw JSON the widget receives carries nothing internal. The same
page on an origin not in CUSTOMER_ALLOWED_ORIGINS is refused by CORS and creates nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError
from playwright.sync_api import Browser, Page, Request, Response, expect, sync_playwright

from agent.customers.refused import REASONS
from handoff import actions
from handoff.actions import Operator
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess, free_port
from tests.support.browser import CHROMIUM_ARGS, VIEWPORT, chromium, screenshot  # noqa: F401
from tests.support.customers import (
    CUSTOMER_SECRET,
    OPERATOR_HEADERS,
    SIGNED_IN_ENV,
    operator_client,
)
from tests.support.widget import HostSite, widget_bundle  # noqa: F401

AGENT_ID = "insurance-support-agent"
DEFAULT_MAX_MESSAGE_CHARS = 4000  # CUSTOMER_MAX_MESSAGE_CHARS, not set here
# A sample customer of the claims store: owns policy POL-1001 and claim CLM-0001.
SAM = {"sub": "cust-sam", "name": "Sam Carter"}

# What the bridge attaches to an operator's Slack reply; none of it may reach the customer.
SLACK_USER, SLACK_CHANNEL, THREAD_TS, REPLY_TS = (
    "U0DANA42",
    "C0CLAIMS42",
    "1712345678.000100",
    "1712345678.000200",
)
DANA = Operator(id=f"slack:{SLACK_USER}", name="Dana", origin="slack")
SLACK_ORIGIN = {
    "slack": {"channel": SLACK_CHANNEL, "ts": REPLY_TS, "thread_ts": THREAD_TS, "user": SLACK_USER}
}
DANA_SAYS = "Hi Sam, Dana here. I have your policy open."

# The widget's client (parlant-client, fern-generated) adds these headers to every call it makes
# (GETs too; only its plain fetch of the agent's name goes without), so each is preceded by a
# CORS preflight asking for them.
WIDGET_REQUEST_HEADERS = "content-type,x-fern-language,x-fern-runtime,x-fern-runtime-version"


# The widget links a Google font and there is no internet here: names other than this machine's
# fail at once. Not page.route(): with interception on, Playwright answers CORS preflights itself
# (204, everything allowed), and the agent's own answer to the preflight is what is tested here.
LOCAL_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def customer_token(claims: dict[str, str], ttl_s: int = 600) -> str:
    """What the insurer's backend mints for its signed-in customer: PyJWT, none of our code."""
    now = int(time.time())
    return jwt.encode({**claims, "iat": now, "exp": now + ttl_s}, CUSTOMER_SECRET, "HS256")


@pytest.fixture(scope="module")
def allowed_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, allowed_port: int) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("widget") / "parlant"
    process = AgentProcess(
        home=home,
        extra_env={
            **SIGNED_IN_ENV,  # PARLANT_OPERATOR_TOKEN and CUSTOMER_TOKEN_SECRET
            "CUSTOMER_ALLOWED_ORIGINS": f"http://localhost:{allowed_port}",
        },
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def operator(guarded: AgentProcess) -> ParlantClient:
    return operator_client(guarded.url)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:  # noqa: F811
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), args=[*CHROMIUM_ARGS, LOCAL_ONLY]
        )
        try:
            yield launched
        finally:
            launched.close()


class AgentTraffic:
    """Everything the page asked of the agent, and the agent's answers, as the widget saw them."""

    def __init__(self, page: Page, agent_url: str) -> None:
        self.agent_url = agent_url
        self.responses: list[Response] = []
        self.failed: list[Request] = []
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)

    def _on_response(self, response: Response) -> None:
        if response.url.startswith(self.agent_url):
            self.responses.append(response)

    def _on_failed(self, request: Request) -> None:
        if request.url.startswith(self.agent_url):
            self.failed.append(request)

    def json_bodies(self) -> list[tuple[str, Any]]:
        """(url, parsed body) of every JSON answer; read while the page is still open."""
        bodies = []
        for response in self.responses:
            if "json" in (response.headers.get("content-type") or ""):
                bodies.append((response.url, json.loads(response.text())))
        return bodies


def open_widget(browser: Browser, site: HostSite, agent_url: str) -> tuple[Page, AgentTraffic]:
    page = browser.new_page(viewport=VIEWPORT)
    traffic = AgentTraffic(page, agent_url)
    page.goto(f"{site.origin}/")
    expect(page.get_by_label("Type your message")).to_be_visible(timeout=30_000)
    return page, traffic


def send(page: Page, text: str) -> None:
    page.get_by_label("Type your message").fill(text)
    page.get_by_role("button", name="Send message").click()


def creates_a_session(request: Request) -> bool:
    return request.method == "POST" and request.url.split("?")[0].endswith("/sessions")


def replies(page: Page) -> Any:
    """The non-customer messages in the widget (the AI's and operators')."""
    return page.get_by_role("log", name="Chat messages").locator(
        '[role="group"]:not([aria-label="Message from You"])'
    )


def filled_metadata(value: Any) -> list[Any]:
    """Every non-empty `metadata` value anywhere in a JSON answer.

    Parlant's shapes require the field (the widget's client reads them), so it may be there, empty."""
    if isinstance(value, dict):
        found = [value["metadata"]] if value.get("metadata") else []
        return found + [m for v in value.values() for m in filled_metadata(v)]
    if isinstance(value, list):
        return [m for v in value for m in filled_metadata(v)]
    return []


def operator_reply(agent_url: str, session_id: str) -> None:
    """Dana answers from Slack, the way the bridge delivers it (with the Slack ids it keeps)."""

    async def deliver() -> None:
        client = AsyncOperatorClient(
            base_url=agent_url,
            httpx_client=httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=60),
        )
        await actions.send_as_human(client, session_id, DANA, DANA_SAYS, SLACK_ORIGIN)

    # Playwright's sync API owns this thread's event loop: run the action on another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, deliver()).result()


def wait_for_handoff(operator: ParlantClient, session_id: str) -> None:
    deadline = time.monotonic() + 60
    while operator.sessions.retrieve(session_id).mode != "manual":
        assert time.monotonic() < deadline, "the session never went to manual mode"
        time.sleep(0.3)
    tools = [
        call["tool_id"]
        for event in operator.sessions.list_events(session_id, kinds="tool", wait_for_data=0)
        for call in (event.data or {})["tool_calls"]
    ]
    assert any(tool.endswith("initiate_human_handoff") for tool in tools), tools


def test_widget_chats_hands_off_and_shows_the_operators_reply(
    browser: Browser,
    widget_bundle: Path,  # noqa: F811
    guarded: AgentProcess,
    operator: ParlantClient,
    allowed_port: int,
) -> None:
    server = f"{guarded.url}/c/{customer_token(SAM)}"
    site = HostSite(widget_bundle, {"server": server, "agentId": AGENT_ID}, port=allowed_port)
    with site.serve():
        page, traffic = open_widget(browser, site, guarded.url)
        with page.expect_request(creates_a_session) as creating:
            send(page, "What does my policy cover?")
        created = creating.value.response()  # None when the browser refused the call
        assert created is not None, f"POST /sessions failed: {creating.value.failure}"
        assert created.status == 201, created.text()
        session_id = created.json()["id"]
        expect(replies(page).filter(has_text="POL-1001")).to_have_count(1, timeout=60_000)

        send(page, "Can I talk to a human?")
        wait_for_handoff(operator, session_id)
        expect(replies(page).nth(1)).to_be_visible(timeout=60_000)  # the handoff turn's reply

        operator_reply(guarded.url, session_id)
        danas = replies(page).filter(has_text=DANA_SAYS)
        expect(danas).to_have_count(1, timeout=30_000)
        danas.scroll_into_view_if_needed()
        screenshot(page, "widget-handoff.png")
        first_visit, failures = traffic.json_bodies(), list(traffic.failed)
        page.close()

        # The insurer's page resumes the conversation later (the widget's `sessionId`): it reads
        # the session and its whole history, now with the operator's claim on record.
        site.config = {**site.config, "sessionId": session_id}
        page, traffic = open_widget(browser, site, guarded.url)
        log = page.get_by_role("log", name="Chat messages")
        for text in ("What does my policy cover?", "POL-1001", "Can I talk to a human?", DANA_SAYS):
            expect(log).to_contain_text(text, timeout=30_000)
        resumed = traffic.json_bodies()
        failures += traffic.failed
        page.close()

    assert not failures, [(r.method, r.url, r.failure) for r in failures]
    answers = first_visit + resumed
    urls = [url.split("?")[0].removeprefix(server) for url, _ in answers]
    assert f"/sessions/{session_id}" in urls, urls  # the session itself was read
    assert f"/sessions/{session_id}/events" in urls, urls

    # The operator's message reached the widget under her display name.
    dana_events = [
        event
        for _, body in answers
        if isinstance(body, list)
        for event in body
        if event.get("kind") == "message" and event.get("data", {}).get("message") == DANA_SAYS
    ]
    assert dana_events, "the widget never received the operator's message"
    assert all(e["data"]["participant"]["display_name"] == "Dana" for e in dana_events)

    # Nothing internal in anything the customer received.
    internal_ids = [SLACK_USER, SLACK_CHANNEL, THREAD_TS, REPLY_TS, "slack:"]
    internal_ids += [g.id for g in operator.guidelines.list()]
    internal_ids += [j.id for j in operator.journeys.list()]
    for url, body in answers:
        raw = json.dumps(body)
        leaked = [value for value in internal_ids if value in raw]
        assert not leaked, f"{url} carries internal ids {leaked}: {raw[:2000]}"
        assert re.search(r"\bU[A-Z0-9]{8,}\b", raw) is None, f"{url}: a Slack user id: {raw[:2000]}"
        assert not filled_metadata(body), f"{url} carries metadata: {raw[:2000]}"


OPENING = "Hello from Acme Insurance! Ask me about your policy or a claim."


def test_the_pages_opening_message_opens_the_chat(
    browser: Browser,
    widget_bundle: Path,  # noqa: F811
    guarded: AgentProcess,
    operator: ParlantClient,
    allowed_port: int,
) -> None:
    # Issue 27 (14): the widget posts its agentOpeningMessage in the agent's voice before the
    # customer's first message; that post was refused (403), and the widget lost the first
    # message with it.
    server = f"{guarded.url}/c/{customer_token(SAM)}"
    config = {"server": server, "agentId": AGENT_ID, "agentOpeningMessage": OPENING}
    site = HostSite(widget_bundle, config, port=allowed_port)
    with site.serve():
        page, traffic = open_widget(browser, site, guarded.url)
        expect(replies(page).filter(has_text=OPENING)).to_have_count(1)  # the widget's own
        with page.expect_request(creates_a_session) as creating:
            send(page, "What does my policy cover?")
        created = creating.value.response()
        assert created is not None and created.status == 201, creating.value.failure
        session_id = created.json()["id"]
        log = page.get_by_role("log", name="Chat messages")
        expect(log).to_contain_text("What does my policy cover?", timeout=30_000)
        expect(replies(page).filter(has_text="POL-1001")).to_have_count(1, timeout=60_000)
        # Now read from the session: the opening once, then the customer's message.
        expect(replies(page).filter(has_text=OPENING)).to_have_count(1)
        screenshot(page, "widget-opening.png")
        refused = [
            (r.request.method, r.url, r.status)
            for r in traffic.responses
            if r.status >= 400 and not (r.request.method == "GET" and r.status == 504)
        ]
        failures = [(r.method, r.url, r.failure) for r in traffic.failed]
        page.close()

    assert not refused and not failures, (refused, failures)
    events = operator.sessions.list_events(session_id, kinds="message", wait_for_data=0)
    assert [(e.source, (e.data or {})["message"]) for e in events[:2]] == [
        ("human_agent_on_behalf_of_ai_agent", OPENING),
        ("customer", "What does my policy cover?"),
    ]
    # In the operators' record it is the page's opening, not the AI's or an operator's words.
    assert events[0].metadata == {"opening": "chat_page"}


def test_a_page_naming_another_customer_says_why_in_the_widget(
    browser: Browser,
    widget_bundle: Path,  # noqa: F811
    guarded: AgentProcess,
    operator: ParlantClient,
    allowed_port: int,
) -> None:
    # Issue 27 (14): with a `customerId` other than the signed-in customer's, the session was
    # refused (403), which the widget does not show: the customer's message just disappeared.
    sessions_before = {s.id for s in operator.sessions.list()}
    server = f"{guarded.url}/c/{customer_token(SAM)}"
    config = {
        "server": server,
        "agentId": AGENT_ID,
        "customerId": "cust-someone-else",
        "agentOpeningMessage": OPENING,
    }
    site = HostSite(widget_bundle, config, port=allowed_port)
    with site.serve():
        page, traffic = open_widget(browser, site, guarded.url)
        send(page, "What does my policy cover?")
        reason = replies(page).filter(has_text=REASONS["customer"])
        expect(reason).to_have_count(1, timeout=30_000)
        screenshot(page, "widget-another-customer.png")
        failures = [(r.method, r.url, r.failure) for r in traffic.failed]
        page.close()

    assert not failures, failures
    # Nothing was created, for either customer: the refused session is stored nowhere.
    assert {s.id for s in operator.sessions.list()} == sessions_before
    with pytest.raises(ApiError) as unknown:
        operator.customers.retrieve("cust-someone-else")
    assert unknown.value.status_code == 404


def test_a_first_message_too_long_is_refused_in_the_widget_and_the_chat_goes_on(
    browser: Browser,
    widget_bundle: Path,  # noqa: F811
    guarded: AgentProcess,
    operator: ParlantClient,
    allowed_port: int,
) -> None:
    # The widget drops a refused first message without a word (its box is already empty) and
    # never opens the session it created for it; the reason is written into the session.
    server = f"{guarded.url}/c/{customer_token(SAM)}"
    config = {"server": server, "agentId": AGENT_ID, "agentOpeningMessage": OPENING}
    site = HostSite(widget_bundle, config, port=allowed_port)
    too_long = "x" * (DEFAULT_MAX_MESSAGE_CHARS + 1)
    with site.serve():
        page, _ = open_widget(browser, site, guarded.url)
        with page.expect_request(creates_a_session) as creating:
            send(page, too_long)
        created = creating.value.response()
        assert created is not None and created.status == 201, creating.value.failure
        session_id = created.json()["id"]
        notice = replies(page).filter(has_text="Your message was not sent: the message is")
        expect(notice).to_have_count(1, timeout=30_000)
        screenshot(page, "widget-too-long.png")
        # The chat is open: the next message is sent and answered.
        send(page, "What does my policy cover?")
        expect(replies(page).filter(has_text="POL-1001")).to_have_count(1, timeout=60_000)
        page.close()

    events = operator.sessions.list_events(session_id, kinds="message", wait_for_data=0)
    assert [(e.source, e.metadata) for e in events[:3]] == [
        ("human_agent_on_behalf_of_ai_agent", {"opening": "chat_page"}),
        ("human_agent_on_behalf_of_ai_agent", {"notice": "message_not_sent"}),
        ("customer", {}),
    ]
    assert all(too_long not in str((e.data or {}).get("message")) for e in events)


def test_preflight_names_only_allowed_origins(guarded: AgentProcess, allowed_port: int) -> None:
    """Plain HTTP, as the browser asks before the widget's POST /sessions."""
    token = customer_token(SAM)
    for origin, allowed in (
        (f"http://localhost:{allowed_port}", True),
        (f"http://localhost:{free_port()}", False),
        ("https://attacker.example", False),
    ):
        answer = httpx.options(
            f"{guarded.url}/c/{token}/sessions",
            params={"allow_greeting": "false"},
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": WIDGET_REQUEST_HEADERS,
            },
            timeout=10,
        )
        granted = answer.headers.get("access-control-allow-origin")
        if allowed:
            assert answer.status_code == 200 and granted == origin, (
                answer.status_code,
                answer.text,
                dict(answer.headers),
            )
            asked = set(WIDGET_REQUEST_HEADERS.split(","))
            allowed_headers = answer.headers.get("access-control-allow-headers", "").lower()
            assert allowed_headers == "*" or asked <= {
                h.strip() for h in allowed_headers.split(",")
            }, allowed_headers
        else:
            assert granted is None, (origin, answer.headers)


def test_widget_on_an_origin_not_allowed_is_refused(
    browser: Browser,
    widget_bundle: Path,  # noqa: F811
    guarded: AgentProcess,
    operator: ParlantClient,
) -> None:
    sessions_before = len(list(operator.sessions.list()))
    server = f"{guarded.url}/c/{customer_token(SAM)}"
    site = HostSite(widget_bundle, {"server": server, "agentId": AGENT_ID})
    with site.serve():
        page, traffic = open_widget(browser, site, guarded.url)
        with page.expect_event("requestfailed", creates_a_session, timeout=30_000):
            send(page, "What does my policy cover?")
        page.wait_for_timeout(2_000)  # time for anything that did get through to show
        expect(replies(page)).to_have_count(0)
        screenshot(page, "widget-refused.png")
        page.close()

    # Nothing was created for this page: the browser's preflight was refused (and the gateway
    # refuses a request carrying an Origin that is not listed, should one get through).
    assert len(list(operator.sessions.list())) == sessions_before
    assert not [r for r in traffic.responses if r.request.method == "POST"], [
        (r.request.method, r.url, r.status) for r in traffic.responses
    ]
    # Even the agent's name (a simple GET, no preflight) is withheld from this origin's script.
    assert any(r.url.endswith(f"/agents/{AGENT_ID}") for r in traffic.failed), [
        (r.method, r.url, r.failure) for r in traffic.failed
    ]
