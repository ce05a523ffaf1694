"""Screenshots of a handoff's thread as an operator sees it, from what the fake Slack holds.

The thread (root, replies, and the viewer's own ephemeral notes in it) is drawn by
tests/support/slack_render.py and photographed by the project's chromium, for the README.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from tests.fakes.fake_slack import EphemeralMessage, Message
from tests.fakes.slack_signing import BOT_USER_ID, ts_key
from tests.support.agent_process import REPO_ROOT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, docs_screenshot
from tests.support.slack_render import Shown, thread_page
from tests.support.slack_world import SlackWorld

CHANNEL_NAME = "escalations"  # the worlds' channel (tests/support/slack_world.py)
WIDTH = 760  # about Slack's thread pane beside a channel on a laptop screen


def app_name() -> str:
    """The bot's name as Slack shows it: manifest.yml's display_name."""
    manifest = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())
    return str(manifest["features"]["bot_user"]["display_name"])


def people(world: SlackWorld) -> dict[str, str]:
    """User id → the name Slack shows: the display name when set, else the real name."""
    names = {u.id: u.display_name or u.real_name for u in world.slack.call(world.fake.users)}
    names[BOT_USER_ID] = app_name()
    return names


def _shown(m: Message | EphemeralMessage, names: dict[str, str]) -> Shown:
    if isinstance(m, EphemeralMessage):  # posted by the app, seen by its addressee only
        return Shown(names[BOT_USER_ID], m.ts, m.text, m.blocks, is_app=True, only_you=True)
    return Shown(
        names.get(m.user or "", m.user or "?"),
        m.ts,
        m.text,
        m.blocks,
        is_app=m.bot_id is not None,
        edited=m.edited_ts is not None,
        reactions=dict(m.reactions),
    )


def thread_html(world: SlackWorld, root_ts: str, viewer: str) -> str:
    """The thread of root_ts as `viewer` sees it, as a page."""
    names = people(world)
    stored = world.slack.call(world.fake.messages, world.channel, root_ts)
    root = next(m for m in stored if m.ts == root_ts)
    notes = [
        e
        for e in world.slack.call(world.fake.ephemeral_messages, world.channel)
        if e.user == viewer and e.thread_ts == root_ts
    ]
    replies: list[Message | EphemeralMessage] = [m for m in stored if m.ts != root_ts]
    replies = sorted([*replies, *notes], key=lambda m: ts_key(m.ts))
    return thread_page(
        CHANNEL_NAME, _shown(root, names), [_shown(m, names) for m in replies], names
    )


def thread_screenshot(world: SlackWorld, root_ts: str, viewer: str, name: str) -> Path | None:
    """The thread photographed whole (the pane's full height) into tests/artifacts/<name>;
    None, with a warning, on a machine without chromium (the scenario's own checks still run)."""
    if not CHROMIUM.exists():
        subprocess.run([str(REPO_ROOT / "scripts" / "ensure_browser.sh")], check=False)
    if not CHROMIUM.exists():
        warnings.warn(f"no {CHROMIUM}: {name} not taken", stacklevel=2)
        return None
    page_html = thread_html(world, root_ts, viewer)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 600})
            page.set_content(page_html)
            height = int(page.evaluate("document.documentElement.scrollHeight"))
            page.set_viewport_size({"width": WIDTH, "height": height})
            return docs_screenshot(page, name)
        finally:
            browser.close()
