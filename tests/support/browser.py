"""A real browser for the smoke tests: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.support.agent_process import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
# The README's screenshots are taken on every run (into ARTIFACTS) and copied into docs/ by
# `make screenshots`, so `make test` leaves the tree clean and docs/ never shows another UI.
DOCS = REPO_ROOT / "docs"
REFRESH_DOCS_SCREENSHOTS = os.environ.get("REFRESH_DOCS_SCREENSHOT") == "1"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "ensure_browser.sh")], check=False)
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is missing and scripts/ensure_browser.sh could not install it"
        )
    return CHROMIUM


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def docs_screenshot(page: Page, name: str) -> Path:
    """A screenshot the README shows: checked to be a real page, copied into docs/ on request."""
    shot = screenshot(page, name)
    assert shot.stat().st_size > 10_000
    if REFRESH_DOCS_SCREENSHOTS:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS / name)
    return shot


def script_finished(page: Page, timeout_ms: float = 30_000) -> None:
    """Until the dashboard's script run has ended (Streamlit's `stApp` says `notRunning`): a
    button the run is still mounting (inside an expander the rerun opened) can lose a click
    made before then, as the canned-reply delete's confirmation once did under the suite."""
    expect(
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    ).to_be_attached(timeout=timeout_ms)
