"""tests/support/slack_render.py: the thread page the README's Slack screenshots show. What a
message says is escaped wherever it lands; each block kind the bridge posts is drawn."""

from __future__ import annotations

from slack_bridge import notices
from slack_bridge.draft_message import draft_message
from slack_kit.masking import Masker
from tests.support.slack_render import Shown, block, element, message, mrkdwn, thread_page

NAMES = {"U0DANA": "Dana", "U0BOT": "Escalations"}
HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def test_mrkdwn_escapes_what_slack_decodes() -> None:
    # Slack stores &, < and > as entities; what the reader sees is the decoded text, escaped.
    shown = mrkdwn("a &lt;b&gt; &amp; &amp;lt; \"q\" 'q'", NAMES)
    assert shown == "a &lt;b&gt; &amp; &amp;lt; &quot;q&quot; &#x27;q&#x27;"


def test_mrkdwn_formatting_links_and_mentions() -> None:
    shown = mrkdwn("*bold* _it_ ~gone~ `x*y*` snake_case_name :memo:\nnext <@U0DANA>", NAMES)
    assert "<b>bold</b>" in shown and "<i>it</i>" in shown and "<s>gone</s>" in shown
    assert "<code>x*y*</code>" in shown  # code spans are not formatted inside
    assert "snake_case_name" in shown  # underscores inside a word are not emphasis
    assert "📝" in shown and "<br>next" in shown
    assert '<span class="mention">@Dana</span>' in shown
    assert (
        mrkdwn("<https://x.test/?a=1&amp;b=2|the page>", NAMES)
        == '<a href="https://x.test/?a=1&amp;b=2">the page</a>'
    )
    assert mrkdwn("<javascript:alert(1)|click>", NAMES) == "click"  # no unsafe href
    assert mrkdwn("<!date^1700000000^{date_short}|2023-11-14 22:13 UTC>", NAMES).endswith(
        ">2023-11-14 22:13 UTC</span>"
    )
    assert mrkdwn("<@U0NOBODY>", NAMES) == '<span class="mention">@U0NOBODY</span>'
    assert "🟢" in mrkdwn(":large_green_circle: on time", NAMES)  # Slack's own name for it


def test_no_markup_from_a_message_reaches_the_page() -> None:
    encoded = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for text in (encoded, f"<@{HOSTILE}>", f'<https://x.test/"onmouseover=x|{encoded}>'):
        shown = mrkdwn(text, {HOSTILE: HOSTILE})
        assert "<script" not in shown and '"onmouseover' not in shown
    plain = {"type": "plain_text", "text": HOSTILE}
    for drawn in (
        block({"type": "header", "text": plain}, NAMES),
        block({"type": "section", "text": plain, "fields": [plain]}, NAMES),
        block({"type": "context", "elements": [plain]}, NAMES),
        block({"type": "actions", "elements": [{"type": "button", "text": plain}]}, NAMES),
        block({"type": HOSTILE}, NAMES),
        message(Shown(HOSTILE, "1.0", HOSTILE), NAMES),
        thread_page(HOSTILE, Shown(HOSTILE, "1.0", HOSTILE), [], NAMES),
    ):
        assert "<script" not in drawn, drawn
        assert "&lt;script&gt;" in drawn


def test_plain_text_is_not_parsed_as_mrkdwn() -> None:
    drawn = block(
        {"type": "section", "text": {"type": "plain_text", "text": "*a* <@U0DANA>"}}, NAMES
    )
    assert "<b>" not in drawn and "*a* &lt;@U0DANA&gt;" in drawn


def test_each_block_kind() -> None:
    text = {"type": "mrkdwn", "text": "*Customer:* Sam"}
    assert block({"type": "header", "text": {"type": "plain_text", "text": "Hi"}}, NAMES) == (
        '<div class="header">Hi</div>'
    )
    section = block(
        {
            "type": "section",
            "text": text,
            "fields": [{"type": "mrkdwn", "text": "_one_"}, {"type": "plain_text", "text": "two"}],
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Go"}},
        },
        NAMES,
    )
    assert "<b>Customer:</b> Sam" in section
    assert '<div class="field"><i>one</i></div><div class="field">two</div>' in section
    assert '<div class="accessory"><span class="button">Go</span></div>' in section
    context = block(
        {"type": "context", "elements": [text, {"type": "image", "alt_text": "logo"}]}, NAMES
    )
    assert context.startswith('<div class="context">') and "[logo]" in context
    assert block({"type": "divider"}, NAMES) == '<hr class="divider">'
    assert "[image: chart]" in block({"type": "image", "alt_text": "chart"}, NAMES)
    assert block({"type": "rich_text"}, NAMES) == '<div class="unknown">[rich_text block]</div>'


def test_buttons_and_other_elements() -> None:
    def label(t: str) -> dict[str, str]:
        return {"type": "plain_text", "text": t}

    assert element({"type": "button", "text": label("Send"), "style": "primary"}, NAMES) == (
        '<span class="button primary">Send</span>'
    )
    assert 'class="button danger"' in element(
        {"type": "button", "text": label("x"), "style": "danger"}, NAMES
    )
    assert element({"type": "button", "text": label("x"), "style": "loud"}, NAMES) == (
        '<span class="button">x</span>'
    )
    linked = element(
        {"type": "button", "text": label("Open"), "url": "https://d.test/s?a&b"}, NAMES
    )
    assert linked == '<a class="button" href="https://d.test/s?a&amp;b">Open</a>'
    assert "Pick ▾" in element({"type": "static_select", "placeholder": label("Pick")}, NAMES)
    assert "⋯" in element({"type": "overflow"}, NAMES)
    assert element({"type": "datepicker"}, NAMES) == '<span class="unknown">[datepicker]</span>'


def test_a_message_with_its_author_time_reactions_and_only_you() -> None:
    shown = message(
        Shown(
            "Escalations",
            "1700000000.000100",
            "fallback",
            is_app=True,
            edited=True,
            reactions={"raised_hand": ["U0DANA"], "white_check_mark": ["U0DANA", "U0LEE"]},
        ),
        NAMES,
    )
    assert ">Escalations</span>" in shown and ">APP</span>" in shown and ">22:13</span>" in shown
    assert "(edited)" in shown and "✋ <b>1</b>" in shown and "✅ <b>2</b>" in shown
    assert "fallback" in shown and "Only visible to you" not in shown
    note = message(Shown("Escalations", "1.0", "x", only_you=True), NAMES)
    assert "Only visible to you" in note and 'class="message ephemeral"' in note


def test_the_bridges_own_messages_draw_their_buttons() -> None:
    fallback, blocks = draft_message("Your policy covers theft.", Masker.from_setting(None), "s1")
    drawn = message(Shown("Escalations", "1.0", fallback, blocks, is_app=True), NAMES)
    assert "📝 <b>Draft</b> (not sent)" in drawn and "Your policy covers theft." in drawn
    for button in ('primary">Send as AI', '">Edit and send', '">Dismiss'):
        assert button in drawn
    fallback, blocks = notices.reply_held("it promises an outcome (guaranteed_approval)", 7)
    drawn = message(Shown("Escalations", "1.0", fallback, blocks, only_you=True), NAMES)
    assert "✋ This reply was NOT sent" in drawn and "guaranteed_approval" in drawn
    assert 'danger">Send anyway' in drawn and 'primary">Edit' in drawn


def test_a_thread_counts_its_replies() -> None:
    root = Shown("Escalations", "1.0", "root")
    assert ">1 reply<" in thread_page("escalations", root, [Shown("Dana", "2.0", "hi")], NAMES)
    page = thread_page(
        "escalations", root, [Shown("Dana", "2.0", "a"), Shown("Dana", "3.0", "b")], NAMES
    )
    assert ">2 replies<" in page and page.index(">a<") < page.index(">b<")
    assert page.startswith("<!doctype html>") and "#escalations" in page
