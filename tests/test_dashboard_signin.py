"""The dashboard's password sign-in: a real `python -m dashboard` over HTTP and in chromium.

The signed cookie lets every tab in (a Slack deep link opens a new one) until it expires;
without it nothing answers: pages redirect to /signin, export files answer 401.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.gate import ExportExpiry
from dashboard.signin import COOKIE_NAME, Throttle, issue_token, signing_key, token_expiry
from tests.support.agent_process import REPO_ROOT, AgentProcess, free_port
from tests.support.browser import CHROMIUM_ARGS, VIEWPORT

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def dashboard(agent: AgentProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLANT_", "DASHBOARD_"))}
    env.update(
        PARLANT_URL=agent.url,
        DASHBOARD_PORT=str(port),
        DASHBOARD_URL=url,
        DASHBOARD_PASSWORD=PASSWORD,
        DASHBOARD_SIGN_IN_HOURS="2",
        DOTENV_PATH=str(tmp_path_factory.mktemp("dashboard") / "no.env"),
    )
    log_path = tmp_path_factory.mktemp("dashboard-log") / "dashboard.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, f"dashboard not healthy:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def sign_in(url: str, password: str, next_path: str = "/") -> httpx.Response:
    return httpx.post(
        f"{url}/signin", data={"password": password, "next": next_path}, follow_redirects=False
    )


def test_without_the_cookie_nothing_answers(dashboard: str) -> None:
    page = httpx.get(f"{dashboard}/?session=abc", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2F%3Fsession%3Dabc"
    assert httpx.get(f"{dashboard}/media/0123.csv").status_code == 401
    assert httpx.get(f"{dashboard}/_stcore/health").text == "ok"
    assert httpx.get(f"{dashboard}/healthz").json() == {"alive": True}  # for orchestrators
    form = httpx.get(f"{dashboard}/signin?next=/session%3Fsession%3Dabc")
    assert form.status_code == 200 and 'name="password"' in form.text
    assert 'value="/session?session=abc"' in form.text


def test_sign_in_sets_a_signed_httponly_cookie_good_in_every_tab(dashboard: str) -> None:
    assert "set-cookie" not in sign_in(dashboard, "wrong horse battery").headers

    answer = sign_in(dashboard, PASSWORD, "/session?session=abc")

    assert answer.status_code == 303 and answer.headers["location"] == "/session?session=abc"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for flag in ("HttpOnly", "SameSite=lax", "Max-Age=7200", "Path=/"):
        assert flag in cookie, cookie
    token = answer.cookies[COOKIE_NAME]
    # A fresh client with only the cookie: what a new tab opened from Slack sends.
    tab = httpx.Client(cookies={COOKIE_NAME: token}, follow_redirects=False)
    assert tab.get(f"{dashboard}/session?session=abc").status_code == 200
    tampered = token[:-1] + ("1" if token.endswith("0") else "0")
    forged = httpx.Client(cookies={COOKIE_NAME: tampered}, follow_redirects=False)
    assert forged.get(f"{dashboard}/").status_code == 303


def test_sign_in_never_redirects_off_site(dashboard: str) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        assert sign_in(dashboard, PASSWORD, target).headers["location"] == "/"


def test_a_deep_link_after_signing_in_once_opens_in_a_new_tab(
    chromium: Path, dashboard: str
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(f"{dashboard}/insights")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Handoff insights")).to_be_visible(
                timeout=30_000
            )
            cookie = next(c for c in context.cookies() if c["name"] == COOKIE_NAME)
            assert cookie["httpOnly"]
            assert page.evaluate("document.cookie").find(COOKIE_NAME) < 0

            deep_link = context.new_page()  # what clicking a Slack link does
            deep_link.goto(f"{dashboard}/?session=no-such-session")
            expect(deep_link.get_by_text("No session with id")).to_be_visible(timeout=30_000)

            # An export's link needs the cookie (and expires: test_export_links_expire).
            queue = context.new_page()
            queue.goto(dashboard)
            # The page first, then the download's own wait: on a loaded machine the page alone
            # took most of a 30 s wait, and under five workers the export's rerun of the page
            # once took longer than 30 s by itself (a clean clone's CI run, 2026-12-07).
            export = queue.get_by_role("button", name="Export CSV")
            expect(export).to_be_visible(timeout=30_000)
            with queue.expect_download(timeout=60_000) as download:
                export.click(timeout=30_000)
            link = download.value.url
            assert "/media/" in link
            assert httpx.get(link).status_code == 401
            signed_in = httpx.Client(cookies={COOKIE_NAME: cookie["value"]})
            assert signed_in.get(link).status_code == 200
        finally:
            browser.close()


def test_wrong_passwords_back_off(dashboard: str) -> None:
    # Last in the module: the throttle now holds this client back.
    answers = [sign_in(dashboard, f"guess number {n:02d}").status_code for n in range(6)]
    assert 429 in answers, answers
    throttled = sign_in(dashboard, PASSWORD)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    assert "set-cookie" not in throttled.headers


def test_export_links_expire_after_their_first_download() -> None:
    now = [100.0]
    files = Starlette(routes=[Route("/media/{name}", lambda r: PlainTextResponse("export"))])
    app = ExportExpiry(files, window_s=30, clock=lambda: now[0])
    client = TestClient(app)  # type: ignore[arg-type]  # an ASGI app, typed by its own protocol

    assert client.get("/media/a.csv").status_code == 200
    now[0] = 129.0
    assert client.get("/media/a.csv").status_code == 200  # a retry within the window
    assert client.get("/media/b.csv").status_code == 200  # another export, its own window
    now[0] = 131.0
    assert client.get("/media/a.csv").status_code == 410
    assert client.get("/media/b.csv").status_code == 200


def test_tokens_expire_and_are_bound_to_the_password() -> None:
    key = signing_key(PASSWORD)
    token = issue_token(key, 2_000)
    assert token_expiry(key, token, now=1_000) == 2_000
    assert token_expiry(key, token, now=2_000) is None
    assert token_expiry(signing_key("another long password"), token, now=1_000) is None
    for bad in ("", "2000", "abc.def", "2000.", ".x", "1.2.3"):
        assert token_expiry(key, bad, now=1_000) is None


def test_throttle_backs_off_per_client() -> None:
    throttle = Throttle(free=2, max_wait_s=8, global_limit=100, window_s=60)
    for _ in range(2):
        assert throttle.wait_s("a", 0) == 0
        throttle.failed("a", 0)
    assert throttle.wait_s("a", 0) == 1
    throttle.failed("a", 1)
    assert throttle.wait_s("a", 1) == 2
    for n in range(6):
        throttle.failed("a", 10 + n)
    assert throttle.wait_s("a", 15) == 8  # capped
    assert throttle.wait_s("b", 16) == 0  # another client is not held back by "a"
    throttle.succeeded("a")
    assert throttle.wait_s("a", 16) == 0


def test_throttle_backs_off_globally() -> None:
    throttle = Throttle(free=100, global_limit=5, window_s=60)
    for n in range(5):
        throttle.failed(f"client-{n}", 10 + n)  # each from another address
    assert throttle.wait_s("anyone", 20) == 50  # until the oldest leaves the window
    assert throttle.wait_s("anyone", 70) == 0
