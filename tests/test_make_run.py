"""`make run` (python -m launcher) with the operator token on, driven by a real browser.

One launcher per module: it starts the real agent (offline NLP) and the real dashboard, with a
token it generates into a temporary PARLANT_HOME. A customer chats in the page the banner
points to (Debian's chromium via Playwright); operators act with the token from the file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from parlant.client import ParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.types import Participant
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.support.agent_process import REPO_ROOT, free_port
from tests.support.browser import CHROMIUM_ARGS, VIEWPORT, docs_screenshot, screenshot

START_TIMEOUT_S = 120
HOSTILE = '<img src=x onerror="document.title=1"> **bold** <script>alert(1)</script>'


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    output: Path
    home: Path
    chat_url: str
    dashboard_url: str
    parlant_url: str

    @property
    def token(self) -> str:
        return (self.home / "operator_token").read_text().strip()

    def operator(self) -> ParlantClient:
        return ParlantClient(
            base_url=self.parlant_url,
            httpx_client=httpx.Client(
                headers={"Authorization": f"Bearer {self.token}"}, timeout=60
            ),
        )


def wait_until_up(url: str, process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert process.poll() is None, f"make run exited:\n{output.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"{url} not up:\n{output.read_text()[-4000:]}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


def wait_for_ready_block(process: subprocess.Popen[bytes], output: Path) -> str:
    """The launcher prints its addresses once it has seen every process answer itself."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while "READY: every process is ready." not in (text := output.read_text()):
        assert process.poll() is None, f"make run exited:\n{text[-4000:]}"
        assert time.monotonic() < deadline, f"no ready block:\n{text[-4000:]}"
        time.sleep(0.2)
    return text


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    root = tmp_path_factory.mktemp("make-run")
    home = root / "data" / "parlant"
    parlant_port, dashboard_port = free_port(), free_port()
    parlant_url = f"http://127.0.0.1:{parlant_port}"
    dashboard_url = f"http://127.0.0.1:{dashboard_port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARLANT_", "SLACK_", "DASHBOARD_", "OPENAI_", "BRIDGE_"))
    }
    env.update(
        PARLANT_NLP="offline",
        PARLANT_PORT=str(parlant_port),
        PARLANT_TOOL_PORT=str(free_port()),
        PARLANT_HOME=str(home),
        PARLANT_URL=parlant_url,
        DASHBOARD_PORT=str(dashboard_port),
        DASHBOARD_URL=dashboard_url,
        DOTENV_PATH=str(root / "no.env"),
    )
    output = root / "make-run.log"
    with output.open("wb") as log:
        # Its own process group, so every process it started can be stopped if it hangs.
        process = subprocess.Popen(
            [sys.executable, "-m", "launcher"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_up(f"{parlant_url}/healthz", process, output)
        wait_until_up(f"{dashboard_url}/_stcore/health", process, output)
        banner = wait_for_ready_block(process, output)
        chat = re.search(r"customer chat: +(\S+)", banner)
        assert chat, banner
        yield Launched(process, output, home, chat.group(1), dashboard_url, parlant_url)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_token_is_generated_private_and_never_printed(launched: Launched) -> None:
    path = launched.home / "operator_token"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(launched.token) >= 32
    output = launched.output.read_text()
    assert f"operator token: in {path}" in output
    assert launched.chat_url.endswith("/support")
    assert launched.token not in output


def test_without_the_token_operator_calls_get_403(launched: Launched) -> None:
    anonymous = ParlantClient(base_url=launched.parlant_url)
    session = launched.operator().sessions.create(agent_id="insurance-support-agent").id
    for attempt in (
        lambda: anonymous.sessions.create_event(
            session,
            kind="message",
            source="human_agent",
            message="I am an operator",
            participant=Participant(id="x", display_name="Fake"),
        ),
        lambda: anonymous.sessions.list(),
        # The session id (as Slack and the dashboard show it) is not a key to the session.
        lambda: anonymous.sessions.retrieve(session),
        lambda: anonymous.sessions.list_events(session, kinds="message,status", wait_for_data=0),
        lambda: anonymous.sessions.create_event(
            session, kind="message", source="customer", message="hi"
        ),
    ):
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403
    assert session in [s.id for s in launched.operator().sessions.list()]


def messages(page: Page, source: str) -> Locator:
    return page.locator(f'#transcript li[data-source="{source}"] p')


def sign_in_as(page: Page, name: str) -> None:
    page.get_by_role("button", name=f"Continue as {name} (sample customer)").click()
    expect(page.locator("#who-am-i-text")).to_have_text(
        f"Signed in as {name} (sample customer, demo)."
    )
    expect(page.locator("#transcript li.greeting")).to_contain_text(f"Hi {name.split()[0]}!")


def send(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.keyboard.press("Enter")
    expect(messages(page, "customer").filter(has_text=text)).to_have_count(1, timeout=15_000)


def wait_for_manual_mode(operator: ParlantClient, session: str) -> None:
    deadline = time.monotonic() + 30
    while operator.sessions.retrieve(session).mode != "manual":
        assert time.monotonic() < deadline, "the session never went to manual mode"
        time.sleep(0.2)


def test_a_customer_chats_is_handed_off_and_sees_the_operator(
    launched: Launched, chromium: Path
) -> None:
    operator = launched.operator()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(launched.chat_url)
            expect(page.locator("#demo-note")).to_be_visible()
            sign_in_as(page, "Sam Carter")

            send(page, "What does my policy cover?")
            expect(messages(page, "ai_agent").first).to_contain_text("POL-1001", timeout=60_000)

            send(page, "I want to talk to a human")
            expect(messages(page, "ai_agent")).to_have_count(2, timeout=60_000)
            session = page.evaluate("sessionStorage.getItem('support-chat-session')")
            wait_for_manual_mode(operator, session)

            # The AI is silent now: the page says a person will reply here, and when.
            expect(page.locator("#notice")).to_contain_text(
                "A person from our support team will reply here", timeout=30_000
            )
            docs_screenshot(page, "customer-handoff.png")  # the README's, mid-handoff
            send(page, "Hello? Anyone there?")
            expect(page.get_by_role("status")).to_have_text("Waiting for a reply…")

            operator.sessions.create_event(
                session,
                kind="message",
                source="human_agent",
                message="Hi, Dana here. " + HOSTILE,
                participant=Participant(id="slack:U0DANA", display_name="Dana"),
            )
            reply = page.locator("#transcript li.from-operator")
            expect(reply.locator("p")).to_have_text("Hi, Dana here. " + HOSTILE, timeout=30_000)
            expect(reply.locator(".who")).to_have_text("Dana (support team)")
            expect(page.get_by_role("status")).to_be_hidden()
            expect(page.locator("#notice")).to_be_hidden()
            assert page.locator("#transcript img, #transcript script").count() == 0
            assert page.title() != "1"
            screenshot(page, "customer-chat.png")

            # A reload resumes the same conversation from the server, nothing twice.
            page.reload()
            expect(messages(page, "customer")).to_have_count(3, timeout=30_000)
            expect(page.locator("#transcript li.from-operator")).to_have_count(1)
        finally:
            browser.close()
    assert not [line for line in console if "Content Security Policy" in line], console

    stored = operator.sessions.list_events(
        session, kinds="message", source="customer", wait_for_data=0
    )
    assert [e.data["message"] for e in stored] == [
        "What does my policy cover?",
        "I want to talk to a human",
        "Hello? Anyone there?",
    ]
    _the_dashboard_shows_it(launched, chromium, session)


def _the_dashboard_shows_it(launched: Launched, chromium: Path, session: str) -> None:
    """The dashboard `make run` started reads Parlant with the generated token."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{launched.dashboard_url}/?session={session}")
            expect(page.get_by_text("Hello? Anyone there?", exact=True)).to_be_visible(
                timeout=60_000
            )
        finally:
            browser.close()


def test_two_tabs_as_two_sample_customers_never_see_each_others_claims(
    launched: Launched, chromium: Path
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            sam, alice = browser.new_page(viewport=VIEWPORT), browser.new_page(viewport=VIEWPORT)
            sam.goto(launched.chat_url)
            alice.goto(launched.chat_url)
            sign_in_as(sam, "Sam Carter")
            sign_in_as(alice, "Alice Martin")
            send(sam, "Do I have any open claims?")
            send(alice, "Do I have any open claims?")
            expect(messages(sam, "ai_agent").first).to_contain_text("CLM-0001", timeout=60_000)
            expect(messages(alice, "ai_agent").first).to_contain_text(
                "no open claims", timeout=60_000
            )
            expect(alice.locator("#transcript")).not_to_contain_text("CLM-")
            # Alice's tab holds Sam's session id: it still shows Alice nothing of his.
            sams = sam.evaluate("sessionStorage.getItem('support-chat-session')")
            alice.evaluate(f"sessionStorage.setItem('support-chat-session', {sams!r})")
            alice.reload()
            expect(alice.locator("#who-am-i-text")).to_contain_text("Alice Martin")
            alice.wait_for_timeout(1500)
            expect(alice.locator("#transcript")).not_to_contain_text("CLM-0001")
            assert alice.evaluate("sessionStorage.getItem('support-chat-session')") is None
        finally:
            browser.close()


def test_the_page_keeps_a_refused_message_and_says_why(launched: Launched, chromium: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(launched.chat_url)
            page.get_by_role("button", name="Continue as a guest").click()
            expect(page.locator("#who-am-i-text")).to_have_text("Chatting as a guest.")
            too_long = "a" * 4001
            page.get_by_label("Your message").fill(too_long)
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_contain_text("the limit is 4,000")
            assert page.get_by_label("Your message").input_value() == too_long
            # The server says the same when a client does not check first.
            page.evaluate("options.max_message_chars = 100000")
            page.keyboard.press("Enter")
            expect(page.get_by_role("alert")).to_contain_text("Please shorten it")
            assert page.get_by_label("Your message").input_value() == too_long
            assert messages(page, "customer").count() == 0
        finally:
            browser.close()
