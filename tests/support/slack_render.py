"""A Slack thread as an HTML page, close to Slack's thread view, from what the fake Slack holds.

Slack itself is not reachable from the tests, so the README's pictures of the thread are this
page, filled by a real scenario and screenshotted in a real browser. Pure: messages and their
Block Kit blocks in, escaped HTML out. Only what the bridge posts is drawn faithfully (header,
section with text, fields and a button accessory, context, actions with buttons, divider,
image); any other block shows as a labelled placeholder rather than silently vanishing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import emoji

Block = Mapping[str, Any]


@dataclass(frozen=True)
class Shown:
    """One message as a reader of the thread sees it."""

    author: str
    ts: str
    text: str
    blocks: Sequence[Block] | None = None
    is_app: bool = False
    only_you: bool = False  # an ephemeral message: only its addressee sees it
    edited: bool = False
    reactions: Mapping[str, Sequence[str]] = field(default_factory=dict)


# <@U123>, <#C123|name>, <!here>, <!date^…|fallback>, <https://…|label>: Slack's link syntax.
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Emphasis as Slack parses it: the marker next to a word character inside, not inside a word.
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_SHORTCODE = re.compile(r":([a-z0-9_+\-]+):")
_SAFE_SCHEMES = ("https://", "http://", "mailto:")


# Slack's own names the `emoji` package's aliases lack (it calls these colored circles plainly).
_SLACK_ONLY = {
    "large_green_circle": "\U0001f7e2",
    "large_yellow_circle": "\U0001f7e1",
    "large_orange_circle": "\U0001f7e0",
    "large_purple_circle": "\U0001f7e3",
    "large_brown_circle": "\U0001f7e4",
}


def emojize(escaped: str) -> str:
    """:memo: → 📝 for the shortcodes Slack knows; unknown ones stay as typed."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) in _SLACK_ONLY:
            return _SLACK_ONLY[match.group(1)]
        return emoji.emojize(match.group(0), language="alias")

    return _SHORTCODE.sub(one, escaped)


def _slack_decode(text: str) -> str:
    # Slack sends &, < and > as entities in message text; nothing else is encoded.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _inline(segment: str) -> str:
    """A run of mrkdwn without links: escaped first, then emphasis and emoji on the escaped text."""
    out = html.escape(_slack_decode(segment), quote=True)
    codes: list[str] = []

    def keep(match: re.Match[str]) -> str:  # code spans are not formatted further
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE.sub(keep, out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    out = _STRIKE.sub(r"<s>\1</s>", out)
    out = emojize(out)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)


def _link(target: str, label: str | None, names: Mapping[str, str]) -> str:
    shown = html.escape(_slack_decode(label or ""), quote=True)
    if target.startswith("@"):
        name = names.get(target[1:], label or target[1:])
        return f'<span class="mention">@{html.escape(name, quote=True)}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{shown or html.escape(target[1:], quote=True)}</span>'
    if target.startswith("!"):
        if target.startswith("!date^"):
            return f'<span class="date">{shown}</span>'
        return f'<span class="mention">@{html.escape(target[1:], quote=True)}</span>'
    href = _slack_decode(target)
    text = shown or html.escape(href, quote=True)
    if not href.startswith(_SAFE_SCHEMES):
        return text
    return f'<a href="{html.escape(href, quote=True)}">{text}</a>'


def mrkdwn(text: str, names: Mapping[str, str]) -> str:
    """Slack mrkdwn (entity-encoded, as Slack stores it) → HTML; names maps user ids to names."""
    parts: list[str] = []
    at = 0
    for match in _LINK.finditer(text):
        parts.append(_inline(text[at : match.start()]))
        parts.append(_link(match.group(1), match.group(2), names))
        at = match.end()
    parts.append(_inline(text[at:]))
    return "".join(parts).replace("\n", "<br>")


def plain_text(obj: Mapping[str, Any]) -> str:
    """A plain_text object: never parsed, only emoji shortcodes (unless "emoji": false)."""
    out = html.escape(str(obj.get("text") or ""), quote=True)
    if obj.get("emoji", True):
        out = emojize(out)
    return out.replace("\n", "<br>")


def text_object(obj: Mapping[str, Any] | None, names: Mapping[str, str]) -> str:
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text") or ""), names)
    return plain_text(obj)


def element(el: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """An interactive element (or a context element) as Slack draws it."""
    kind = el.get("type")
    if kind == "button":
        style = el.get("style")
        css = f"button {style}" if style in ("primary", "danger") else "button"
        label = plain_text(el.get("text") or {})
        url = str(el.get("url") or "")
        if url.startswith(_SAFE_SCHEMES):
            return f'<a class="{css}" href="{html.escape(url, quote=True)}">{label}</a>'
        return f'<span class="{css}">{label}</span>'
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{text_object(el, names)}</span>"
    if kind == "image":
        return f'<span class="image-alt">[{html.escape(str(el.get("alt_text") or ""))}]</span>'
    if kind in ("static_select", "external_select", "users_select", "conversations_select"):
        hint = plain_text(el.get("placeholder") or {"text": "Select"})
        return f'<span class="select">{hint} ▾</span>'
    if kind == "overflow":
        return '<span class="button overflow">⋯</span>'
    return f'<span class="unknown">[{html.escape(str(kind))}]</span>'


def block(b: Block, names: Mapping[str, str]) -> str:
    kind = b.get("type")
    if kind == "header":
        return f'<div class="header">{plain_text(b.get("text") or {})}</div>'
    if kind == "section":
        inner = f'<div class="text">{text_object(b.get("text"), names)}</div>'
        fields = b.get("fields") or []
        if fields:
            cells = "".join(f'<div class="field">{text_object(f, names)}</div>' for f in fields)
            inner += f'<div class="fields">{cells}</div>'
        accessory = b.get("accessory")
        side = f'<div class="accessory">{element(accessory, names)}</div>' if accessory else ""
        return f'<div class="section"><div class="main">{inner}</div>{side}</div>'
    if kind == "context":
        items = "".join(element(e, names) for e in b.get("elements") or [])
        return f'<div class="context">{items}</div>'
    if kind == "actions":
        items = "".join(element(e, names) for e in b.get("elements") or [])
        return f'<div class="actions">{items}</div>'
    if kind == "divider":
        return '<hr class="divider">'
    if kind == "image":
        alt = html.escape(str(b.get("alt_text") or ""), quote=True)
        return f'<div class="image-alt">[image: {alt}]</div>'
    return f'<div class="unknown">[{html.escape(str(kind))} block]</div>'


def clock(ts: str) -> str:
    """A message ts as the time Slack prints beside the author (UTC here)."""
    try:
        moment = datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%H:%M")


def _avatar(author: str, is_app: bool) -> str:
    initial = html.escape((author.strip()[:1] or "?").upper())
    palette = ("#2bac76", "#1264a3", "#e8912d", "#cd2553", "#4a154b")
    colour = "#611f69" if is_app else palette[sum(map(ord, author)) % len(palette)]
    return f'<div class="avatar" style="background:{colour}">{initial}</div>'


def message(m: Shown, names: Mapping[str, str]) -> str:
    """One message: avatar, author (APP badge), time, its blocks (or its text), reactions."""
    body = "".join(block(b, names) for b in m.blocks) if m.blocks else mrkdwn(m.text, names)
    badge = '<span class="app">APP</span>' if m.is_app else ""
    edited = '<span class="edited">(edited)</span>' if m.edited else ""
    only = (
        '<div class="only-you">👁 Only visible to you</div>' if m.only_you else ""
    )  # Slack's own line above an ephemeral message
    reactions = "".join(
        f'<span class="reaction">{emojize(html.escape(f":{name}:"))} <b>{len(users)}</b></span>'
        for name, users in m.reactions.items()
    )
    row = f'<div class="reactions">{reactions}</div>' if reactions else ""
    css = "message ephemeral" if m.only_you else "message"
    return (
        f'<div class="{css}">{only}<div class="row">{_avatar(m.author, m.is_app)}'
        f'<div class="content"><div class="meta"><span class="author">'
        f"{html.escape(m.author)}</span>{badge}"
        f'<span class="time">{clock(m.ts)}</span>{edited}</div>'
        f'<div class="body">{body}</div>{row}</div></div></div>'
    )


_CSS = """
body { margin: 0; font: 15px/1.46668 -apple-system, "Segoe UI", Lato, "Helvetica Neue",
  Arial, sans-serif; color: #1d1c1d; background: #fff; }
.pane { width: 100%; border-left: 1px solid #ddd; }
.title { padding: 12px 20px; border-bottom: 1px solid #ddd; font-weight: 900; font-size: 18px; }
.title small { font-weight: 400; color: #616061; font-size: 13px; margin-left: 6px; }
.message { padding: 8px 20px; }
.message.ephemeral { background: #f8f8f8; }
.replies { margin: 4px 20px; color: #616061; font-size: 13px; display: flex; align-items: center; }
.replies:after { content: ""; flex: 1; border-top: 1px solid #ddd; margin-left: 10px; }
.row { display: flex; gap: 8px; }
.avatar { width: 36px; height: 36px; border-radius: 4px; color: #fff; font-weight: 700;
  display: flex; align-items: center; justify-content: center; flex: none; }
.content { flex: 1; min-width: 0; }
.meta { display: flex; align-items: baseline; gap: 6px; }
.author { font-weight: 900; }
.app { background: #e8e8e8; color: #616061; font-size: 10px; font-weight: 700;
  padding: 1px 3px; border-radius: 2px; }
.time, .edited { color: #616061; font-size: 12px; }
.only-you { color: #616061; font-size: 13px; margin: 0 0 4px 44px; }
.header { font-weight: 900; font-size: 18px; margin: 4px 0; }
.section { display: flex; gap: 12px; margin: 4px 0; }
.section .main { flex: 1; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin-top: 4px; }
.context { color: #616061; font-size: 13px; margin: 4px 0; display: flex; gap: 8px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 4px; }
.button { display: inline-block; padding: 0 12px; height: 28px; line-height: 28px;
  border: 1px solid #bbbabb; border-radius: 4px; font-size: 13px; font-weight: 700;
  color: #1d1c1d; background: #fff; text-decoration: none; }
.button.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.button.danger { background: #fff; border-color: #e01e5a; color: #e01e5a; }
.select { display: inline-block; padding: 0 12px; height: 28px; line-height: 28px;
  border: 1px solid #bbbabb; border-radius: 4px; font-size: 13px; color: #616061; }
.mention { background: #e8f5fa; color: #1264a3; border-radius: 3px; padding: 0 2px; }
a { color: #1264a3; text-decoration: none; }
code { font: 12px Monaco, Menlo, monospace; color: #e01e5a; background: #f6f6f6;
  border: 1px solid #ddd; border-radius: 3px; padding: 1px 3px; }
.reactions { display: flex; gap: 4px; margin-top: 4px; }
.reaction { background: #f2f2f2; border: 1px solid #e2e2e2; border-radius: 12px;
  padding: 0 8px; font-size: 12px; }
.divider { border: none; border-top: 1px solid #ddd; }
.unknown, .image-alt { color: #616061; font-style: italic; }
"""


def thread_page(
    channel: str, root: Shown, replies: Sequence[Shown], names: Mapping[str, str]
) -> str:
    """The whole thread pane: its title, the root message, the reply count, then the replies."""
    count = f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"
    shown = "".join(message(r, names) for r in replies)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Thread</title>'
        f'<style>{_CSS}</style></head><body><div class="pane">'
        f'<div class="title">Thread<small>#{html.escape(channel)}</small></div>'
        f"{message(root, names)}"
        f'<div class="replies">{count}</div>{shown}</div></body></html>'
    )
