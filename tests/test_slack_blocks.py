"""The Slack payload builders: hostile text stays inert, long text fits Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import EnvReader
from handoff import record as records
from handoff.sla import SlaSettings, sla_view
from slack_bridge import handback_form, notices
from slack_bridge.mirror_text import coalesced_message, mirrored_message
from slack_kit import metadata, root_message
from slack_kit.masking import Masker
from slack_kit.metadata import escalation_metadata, mirror_metadata
from slack_kit.root_message import EscalationView, escalation_view, render
from slack_kit.speakers import speaker_label
from slack_kit.text import escape_mrkdwn, split_for_slack

UNMASKED = Masker.of([])

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<!subteam^S123>",
    "<https://evil.example|your bank>",
    "<script>alert(1)</script>",
    "&lt;!channel&gt;",
    "*bold* _italic_ ~strike~ `code` > quote",
    "<\u200b!channel>",
    "\u202e<@U123>\u202c",
]
MARKER = re.compile(r"_\(part (\d+)/(\d+)\)_ ")
NOTICE = re.compile(
    r"\n_… ([\d,]+) more characters not shown here; read the full message in the dashboard\._\Z"
)
DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|]+>")
SESSION = "sess_01HXYZ"
DASHBOARD = "https://dash.example.com"
NOW = "2024-05-01T14:03:00+00:00"
LATER = "2024-05-01T14:10:00+00:00"


def width(text: str) -> int:
    """Slack's length in the strictest plausible unit: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def unmarked(parts: list[str]) -> tuple[str, int | None]:
    """The parts' content joined without markers, and the hidden count of a truncation notice."""
    total = len(parts)
    contents = []
    for index, part in enumerate(parts, 1):
        if total > 1:
            marker = MARKER.match(part)
            assert marker and marker.groups() == (str(index), str(total)), part[:40]
            part = part[marker.end() :]
        contents.append(part)
    notice = NOTICE.search(contents[-1])
    if notice:
        contents[-1] = contents[-1][: notice.start()]
    return "".join(contents), int(notice.group(1).replace(",", "")) if notice else None


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def assert_no_broken_entity(content: str) -> None:
    """Every `&` must open a whole entity (a split one would leave a stray `&` behind)."""
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", content)


def assert_inert(mrkdwn: str) -> None:
    """No `<` from anyone but the bridge: only Slack date tokens may open an angle bracket."""
    assert "<" not in DATE_TOKEN.sub("", mrkdwn)
    assert ">" not in DATE_TOKEN.sub("", mrkdwn)


# --- escape_mrkdwn ---------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_inert(hostile: str) -> None:
    escaped = escape_mrkdwn(hostile)
    assert_inert(escaped)
    assert_no_broken_entity(escaped)


def test_escape_is_exact_and_never_unescapes() -> None:
    assert escape_mrkdwn("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    assert escape_mrkdwn("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"
    assert escape_mrkdwn("*bold* _it_ ~s~") == "*bold* _it_ ~s~"


def test_bidi_overrides_are_dropped_but_rtl_and_emoji_survive() -> None:
    assert escape_mrkdwn("a\u202eb\u2066c\u2069") == "abc"
    kept = "مرحبا بك שלום עולם \u200f\u200e 👨\u200d👩\u200d👧 🇫🇷 👍🏽 é می\u200cخواهم"
    assert escape_mrkdwn(kept) == kept


# --- split_for_slack -------------------------------------------------------------------------


def test_short_text_is_one_unmarked_part() -> None:
    assert split_for_slack("Hi <@U123>, my claim?") == ["Hi &lt;@U123&gt;, my claim?"]


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n"])
def test_empty_text_gets_a_visible_placeholder(text: str) -> None:
    assert split_for_slack(text) == ["_(empty message)_"]


def test_rtl_and_emoji_survive_unchanged() -> None:
    text = "שלום, أريد تقديم مطالبة 🚗💥 👨\u200d👩\u200d👧"
    assert split_for_slack(text) == [text]


def test_fifty_thousand_characters_of_prose() -> None:
    text = "\n".join(
        f"Line {i}: my car was hit & the other driver left <sigh>." for i in range(900)
    )
    assert len(text) >= 50_000
    parts = split_for_slack(text)
    assert len(parts) == 15
    assert all(width(part) <= 2900 for part in parts)
    content, hidden = unmarked(parts)
    escaped = escape_mrkdwn(text)
    assert escaped.startswith(content)
    assert hidden == len(unescape(escaped[len(content) :]))
    assert all(p.endswith("\n") for p in parts[:-1]), "parts should break at line ends"


def test_escape_heavy_text_never_splits_an_entity() -> None:
    parts = split_for_slack("<" * 50_000)
    assert len(parts) == 15
    content, hidden = unmarked(parts)
    for part in parts:
        assert width(part) <= 2900
        assert re.fullmatch(r"(&lt;)+", MARKER.sub("", NOTICE.sub("", part), count=1))
    assert hidden == 50_000 - content.count("&lt;")


def test_text_that_fits_unescaped_is_split_once_escaping_grows_it() -> None:
    parts = split_for_slack("&" * 2000)
    assert len(parts) == 4
    assert unmarked(parts) == ("&amp;" * 2000, None)


@pytest.mark.parametrize(
    ("unit", "starts"),
    [
        ("👨\u200d👩\u200d👧", "👨"),  # ZWJ family: seven code points, one emoji
        ("🇫🇷", "🇫"),  # a flag is two regional indicators
        ("👍🏽", "👍"),  # skin tone modifier
        ("e\u0301", "e"),  # combining accent
        ("\ud83d\ude00", "\ud83d"),  # a surrogate pair left undecoded
    ],
)
def test_hard_cuts_keep_each_visible_character_whole(unit: str, starts: str) -> None:
    parts = split_for_slack(unit * 3000, limit=1000, max_parts=50)
    assert len(parts) > 1
    for part in parts:
        content = MARKER.sub("", part, count=1)
        assert width(part) <= 1000
        assert content.startswith(starts) and content.endswith(unit)
        assert content == unit * (len(content) // len(unit))


def test_newline_is_preferred_to_space_and_space_to_anywhere() -> None:
    text = "word " * 300 + "\n" + "word " * 200
    parts = split_for_slack(text, limit=2000)
    assert parts[0].endswith("\n")
    parts = split_for_slack("word " * 1000, limit=1000)
    assert all(p.endswith(" ") for p in parts[:-1])


def test_one_early_newline_does_not_waste_a_part() -> None:
    parts = split_for_slack("Hi\n" + "x" * 5000, limit=1000)
    assert width(MARKER.sub("", parts[0], count=1)) > 500


def test_impossible_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        split_for_slack("x" * 500, limit=100)


def slack_text() -> st.SearchStrategy[str]:
    tricky = st.sampled_from(
        [
            "<",
            ">",
            "&",
            "&lt;",
            "\n",
            " ",
            "👍🏽",
            "👨\u200d👩\u200d👧",
            "🇫🇷",
            "e\u0301",
            "שלום",
            "\u202e",
        ]
    )
    long_word = st.integers(min_value=50, max_value=400).map(lambda n: "x" * n)
    fragment = st.one_of(st.text(max_size=30), tricky, long_word)
    return st.lists(fragment, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=slack_text(), limit=st.integers(min_value=170, max_value=600), max_parts=st.integers(1, 6)
)
def test_parts_fit_and_reassemble(text: str, limit: int, max_parts: int) -> None:
    escaped = escape_mrkdwn(text)
    parts = split_for_slack(text, limit=limit, max_parts=max_parts)
    if not escaped.strip():
        assert parts == ["_(empty message)_"]
        return
    assert 1 <= len(parts) <= max_parts
    assert all(width(part) <= limit for part in parts)
    content, hidden = unmarked(parts)
    if hidden is None:
        assert content == escaped
    else:
        assert escaped.startswith(content) and len(content) < len(escaped)
        assert hidden == len(unescape(escaped[len(content) :]))
    for part in parts:
        piece = NOTICE.sub("", MARKER.sub("", part, count=1))
        assert_no_broken_entity(piece)
        assert not ("\udc00" <= piece[:1] <= "\udfff")
        assert piece[:1] not in ("\u200d", "🏽", "\u0301")


# --- speaker labels and mirrored messages ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("customer", "Ann Lee", None, None), "Customer (Ann Lee)"),
        (("customer", None, None, None), "Customer"),
        (("ai_agent", None, None, None), "AI agent"),
        (("human_agent", "Dana", "Dana", "dashboard"), "Dana (dashboard)"),
        (
            ("human_agent_on_behalf_of_ai_agent", None, "Lee", "dashboard"),
            "Lee as the AI (dashboard)",
        ),
    ],
)
def test_speaker_labels(args: tuple[str, str | None, str | None, str | None], label: str) -> None:
    assert speaker_label(*args) == label


def test_the_chat_pages_opening_is_no_operators() -> None:
    # The widget's agentOpeningMessage: in the agent's voice, posted by the customer's browser.
    on_behalf = "human_agent_on_behalf_of_ai_agent"
    label = speaker_label(on_behalf, "Insurance Support Agent", None, None, page_opening=True)
    assert label == "AI agent (the chat page's opening)"
    assert speaker_label(on_behalf, None, None, None) == "An operator as the AI"
    notice = speaker_label(on_behalf, "Insurance Support Agent", None, None, not_sent_notice=True)
    assert notice == "AI agent (notice: a message was not sent)"


def test_mirrored_message_escapes_label_and_text() -> None:
    label = speaker_label("customer", "<!channel> Eve", None, None)
    [(fallback, message)] = mirrored_message(label, "<https://evil|bank> <@U123>", masker=UNMASKED)
    text = message[0]["text"]["text"]
    assert text == "*Customer (&lt;!channel&gt; Eve):* &lt;https://evil|bank&gt; &lt;@U123&gt;"
    assert_inert(text)
    assert_inert(fallback)


@pytest.mark.parametrize("text", ["x y\n" * 12_500, "<" * 50_000, "🚗" * 50_000])
def test_long_mirrored_message_fits_every_limit(text: str) -> None:
    messages = mirrored_message("Customer (" + "N" * 500 + ")", text, masker=UNMASKED)
    assert 1 < len(messages) <= 15
    for fallback, message in messages:
        assert len(message) <= 50
        assert width(message[0]["text"]["text"]) <= 3000
        assert width(fallback) <= 40_000
        assert_inert(fallback)
    assert "more characters not shown here" in messages[-1][1][0]["text"]["text"]


def test_empty_mirrored_message_is_visible() -> None:
    [(_, message)] = mirrored_message("AI agent", "   ", masker=UNMASKED)
    assert message[0]["text"]["text"] == "*AI agent:* _(empty message)_"


# --- root message ----------------------------------------------------------------------------


def record_with(status: str) -> records.HandoffRecord:
    record = records.request_handoff(None, "wants to dispute a claim", NOW, "pending")
    if status in ("claimed", "returned", "resolved"):
        record = records.claimed(record, "slack:U1", "Dana", LATER)
    if status == "returned":
        record = records.returned(record, "slack:U1", "Dana", LATER)
    if status == "resolved":
        record = records.resolved(record, "dashboard:lee", "Lee", LATER)
    return record


def view_with(status: str, **overrides: Any) -> EscalationView:
    recent = [("Customer (Ann)", "My car was hit."), ("AI agent", "I'll get a human.")]
    view = escalation_view(
        SESSION, "Ann", record_with(status), recent, DASHBOARD + "/", masker=UNMASKED
    )
    return EscalationView(**{**view.__dict__, **overrides})


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def assert_within_limits(blocks_: list[dict[str, Any]]) -> None:
    assert len(blocks_) <= 50
    for block in blocks_:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and width(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert 0 < width(block["text"]["text"]) <= 3000
            assert_inert(block["text"]["text"])
        if block["type"] == "context":
            assert all(width(e["text"]) <= 3000 for e in block["elements"])
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
    for node in walk(blocks_):
        if node.get("type") == "button":
            assert width(node["text"]["text"]) <= 75
            assert len(node["action_id"]) <= 255 and len(node["value"]) <= 2000
            assert len(node.get("url", "")) <= 3000


def action_ids(blocks_: list[dict[str, Any]]) -> list[str]:
    [actions] = [b for b in blocks_ if b["type"] == "actions"]
    return [element["action_id"] for element in actions["elements"]]


HUMAN_BUTTONS = ["escalation_claim", "escalation_return", "escalation_resolve"]


@pytest.mark.parametrize(
    ("status", "ids", "line"),
    [
        ("waiting", HUMAN_BUTTONS, ":hourglass: Waiting"),
        ("claimed", HUMAN_BUTTONS, ":raising_hand: Claimed by Dana at <!date^"),
        (
            "returned",
            ["escalation_take_over", "escalation_resolve"],
            ":robot_face: Back with the AI since <!date^",
        ),
        ("resolved", [], ":white_check_mark: Resolved by Lee at <!date^"),
    ],
)
def test_root_message_for_each_status(status: str, ids: list[str], line: str) -> None:
    fallback, blocks_ = render(view_with(status))
    assert_within_limits(blocks_)
    assert blocks_[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Escalation: Ann"},
    }
    assert action_ids(blocks_) == [*ids, "escalation_open_dashboard"]
    sections = [b["text"]["text"] for b in blocks_ if b["type"] == "section"]
    assert any(s.startswith(line) for s in sections)
    assert "*Customer (Ann):* My car was hit." in "\n".join(sections)
    assert "<!date^1714572180^{date_short_pretty} {time}|2024-05-01 14:03 UTC>" in sections[0]
    assert status in fallback and "Ann" in fallback
    for node in walk(blocks_):
        if node.get("type") == "button":
            assert node["value"] == SESSION
            if node["action_id"] == "escalation_open_dashboard":
                assert node["url"] == f"{DASHBOARD}/?session={SESSION}"
            if node["action_id"] == "escalation_resolve":
                assert node["style"] == "danger" and node["confirm"]["confirm"]["text"] == "Resolve"


def test_returned_status_names_who_handed_back() -> None:
    _, blocks_ = render(view_with("returned"))
    assert any("(by Dana)" in b["text"]["text"] for b in blocks_ if b["type"] == "section")


def test_reply_hint_only_while_a_human_holds_the_conversation() -> None:
    for status in ("waiting", "claimed"):
        _, blocks_ = render(view_with(status))
        assert root_message.REPLY_HINT in str(blocks_)
    for status in ("returned", "resolved"):
        _, blocks_ = render(view_with(status))
        assert root_message.REPLY_HINT not in str(blocks_)


def test_hostile_and_huge_root_message_stays_inert_and_within_limits() -> None:
    huge = "<!channel> " * 5000
    view = view_with(
        "claimed",
        customer_name="<!here> " + "A" * 300,
        reason="<https://evil|bank> " + "&" * 5000,
        claimed_by="<@U999>",
        recent=tuple((f"Customer (<!channel>{i})", huge) for i in range(30)),
    )
    fallback, blocks_ = render(view)
    assert_within_limits(blocks_)
    assert_inert(fallback)
    assert blocks_[0]["text"]["text"].endswith("…")
    [recent] = [
        b for b in blocks_ if b["type"] == "section" and "Before the handoff" in b["text"]["text"]
    ]
    lines = recent["text"]["text"].split("\n")[1:]
    assert len(lines) == root_message.RECENT_MESSAGES and lines[-1].startswith(
        "*Customer (&lt;!channel&gt;29):*"
    )
    assert all(width(line.split(":* ", 1)[1]) <= 300 and line.endswith("…") for line in lines)


def test_view_from_record() -> None:
    view = escalation_view(SESSION, None, record_with("resolved"), [], DASHBOARD, masker=UNMASKED)
    assert (view.customer_name, view.status, view.claimed_by, view.resolved_by) == (
        "Unknown customer",
        "resolved",
        "Dana",
        "Lee",
    )
    assert (view.requested_at, view.resolved_at, view.returned_by) == (NOW, LATER, None)
    with pytest.raises(ValueError):
        escalation_view(SESSION, "Ann", {"reason": "x"}, [], DASHBOARD, masker=UNMASKED)


def test_unparsable_time_is_shown_as_unknown() -> None:
    _, blocks_ = render(view_with("waiting", requested_at="yesterday"))
    assert "*Handed off:* an unknown time" in blocks_[1]["text"]["text"]


# --- metadata and notices --------------------------------------------------------------------


def test_metadata_shapes() -> None:
    assert escalation_metadata(SESSION) == {
        "event_type": "insurance_escalation",
        "event_payload": {"session_id": SESSION},
    }
    assert mirror_metadata(SESSION, "evt_1", 2) == {
        "event_type": "insurance_mirrored_event",
        "event_payload": {"session_id": SESSION, "event_id": "evt_1", "part": 2},
    }


def test_notices() -> None:
    assert "not sent to the customer" in notices.edit_not_propagated()
    assert "send a new reply" in notices.delete_not_propagated()
    failed = notices.delivery_failed("HTTP 500 <!channel>")
    assert "NOT delivered" in failed
    assert_inert(failed)
    assert "queued" in notices.delivery_pending()
    assert "Take over" in notices.session_not_with_human("returned")
    for status in ("returned", "resolved", None):
        assert "NOT sent" in notices.session_not_with_human(status)
    assert "NOT sent" in notices.operator_not_allowed()


# --- The handback form and its thread line ---------------------------------------------------


def test_handback_form_round_trips_its_target_and_asks_for_one_bounded_note() -> None:
    target = handback_form.HandbackTarget("sess-1", "C0ESC", "1700000000.000100")
    modal = handback_form.handback_modal(target)

    assert modal["type"] == "modal" and modal["callback_id"] == handback_form.VIEW_HANDBACK
    assert len(modal["title"]["text"]) <= 24 and len(modal["private_metadata"]) <= 3000
    [field] = modal["blocks"]
    assert field["type"] == "input" and not field.get("optional", False)
    assert field["label"]["text"] == "Handback note for the AI"
    assert field["element"]["multiline"] and field["element"]["max_length"] == 1000
    submitted = {
        **modal,
        "state": {
            "values": {
                handback_form.HANDBACK_BLOCK: {handback_form.HANDBACK_INPUT: {"value": "done"}}
            }
        },
    }
    assert handback_form.handback_target(submitted) == target
    assert handback_form.handback_note(submitted) == "done"
    assert handback_form.handback_target({"private_metadata": "not ours"}) is None


@given(
    name=st.sampled_from(HOSTILE),
    note=st.text(min_size=1, max_size=1000) | st.sampled_from(HOSTILE),
)
@settings(max_examples=60, deadline=None)
def test_handback_line_keeps_names_and_notes_inert_and_within_limits(name: str, note: str) -> None:
    fallback, blocks_ = handback_form.handback_posted(name, note)
    assert_within_limits(blocks_)
    assert_inert(fallback)
    assert blocks_[0]["text"]["text"].startswith(":robot_face: Handed back to the AI by ")


def test_handback_line_carries_a_note_that_escaping_makes_long() -> None:
    _, blocks_ = handback_form.handback_posted("Dana", "&" * 1000)
    assert_within_limits(blocks_)
    assert "".join(b["text"]["text"] for b in blocks_[1:]).count("&amp;") == 1000


# --- the SLA clock -----------------------------------------------------------------------------

SLA = SlaSettings.from_env(EnvReader(environ={}, dotenv={}))
AGO_TOKEN = re.compile(r"<!date\^\d+\^\{ago\}\|at [^<>|]+>")


def sla_context(blocks_: list[dict[str, Any]]) -> str:
    [text] = [
        e["text"]
        for b in blocks_
        if b["type"] == "context"
        for e in b["elements"]
        if ":stopwatch:" in e["text"]
    ]
    return str(text)


def view_at(status: str, minutes_after_handoff: float, **record_changes: str) -> EscalationView:
    record = {**record_with(status), **record_changes}
    now = datetime.fromisoformat(NOW) + timedelta(minutes=minutes_after_handoff)
    return view_with(status, sla=sla_view(record, SLA, now))


def test_root_message_shows_a_live_age_and_both_clocks() -> None:
    text = sla_context(render(view_at("waiting", 7.5))[1])
    assert AGO_TOKEN.search(text)
    assert ":large_green_circle: Claim 7 min / 15 min, on time" in text
    assert "First reply 7 min / 30 min, on time" in text
    assert "business hours" not in text


def test_root_message_shows_due_soon_and_breached() -> None:
    assert ":large_yellow_circle: Claim 10 min / 15 min, due soon" in sla_context(
        render(view_at("waiting", 12))[1]
    )
    assert ":red_circle: Claim 15 min / 15 min, breached" in sla_context(
        render(view_at("waiting", 16))[1]
    )
    assert "Claim under 1 min / 15 min" in sla_context(render(view_at("waiting", 0.5))[1])


def test_stopped_clocks_say_how_they_ended() -> None:
    claimed = view_at("claimed", 90, first_human_reply_at="2024-05-01T14:50:00+00:00")
    text = sla_context(render(claimed)[1])
    assert "Claim met: claimed after 7 min (target 15 min)" in text
    assert ":red_circle: First reply breached: answered after 47 min (target 30 min)" in text


def test_without_an_sla_view_the_root_message_has_no_sla_line() -> None:
    _, blocks_ = render(view_with("waiting"))
    assert not any(":stopwatch:" in json.dumps(b) for b in blocks_)


def test_claim_reminder_and_breach_notice() -> None:
    view = sla_view(record_with("waiting"), SLA, datetime.fromisoformat(LATER) + timedelta(hours=1))
    assert view is not None
    text, blocks_ = notices.claim_reminder(view)
    assert "15 min" in text and "Claim" in text
    assert_within_limits(blocks_)
    link = "https://fake.slack.com/archives/C1/p123?thread_ts=1.2&cid=C1"
    fallback, notice = notices.breach_notice(
        "claim", "<!channel> Ann", "<https://evil|bank>", "15 min", link
    )
    body = notice[0]["text"]["text"]
    assert_inert(body.replace(f"<{escape_mrkdwn(link)}|Open the thread>", ""))
    assert "&lt;!channel&gt; Ann" in body and "&lt;https://evil|bank&gt;" in body
    assert (
        "<https://fake.slack.com/archives/C1/p123?thread_ts=1.2&amp;cid=C1|Open the thread>" in body
    )
    assert "<!channel>" not in fallback
    _, unlinked = notices.breach_notice("first_reply", "Ann", "", "30 min", "javascript:alert(1)")
    assert (
        "javascript" not in unlinked[0]["text"]["text"]
        and "no person answered" in unlinked[0]["text"]["text"]
    )


def test_sla_notice_metadata_names_session_and_kind() -> None:
    assert metadata.sla_notice_metadata(SESSION, "claim_reminder") == {
        "event_type": "insurance_sla_notice",
        "event_payload": {"session_id": SESSION, "kind": "claim_reminder"},
    }


# --- Coalesced mirror posts -------------------------------------------------------------------


def test_a_coalesced_post_is_each_message_as_its_own_post_would_be() -> None:
    masker = Masker.from_setting(None)
    shown = [("Customer (Ann)", "card 4242 4242 4242 4242 <!channel>"), ("AI agent", "Hello")]
    text, blocks = coalesced_message(shown, masker=masker)
    alone = [mirrored_message(label, words, masker=masker)[0] for label, words in shown]
    assert blocks == [block for _, part_blocks in alone for block in part_blocks]
    assert text == "\n".join(fallback for fallback, _ in alone)
    assert "4242 4242 4242 4242" not in json.dumps(blocks) and "<!channel>" not in text


def test_a_coalesced_posts_notification_text_is_capped() -> None:
    shown = [("Customer", "x" * 2000)] * 5
    text, blocks = coalesced_message(shown, masker=Masker.from_setting(None))
    assert len(text) <= 3000 and text.endswith("…") and len(blocks) == 5


def test_coalesced_metadata_names_every_event_and_single_posts_still_read() -> None:
    batch = {"metadata": metadata.mirror_batch_metadata("s-1", ["e-1", "e-2"])}
    single = {"metadata": mirror_metadata("s-1", "e-3", 1)}
    assert metadata.mirrored_parts(batch) == {("e-1", 0), ("e-2", 0)}
    assert metadata.mirrored_parts(single) == {("e-3", 1)}
    assert metadata.is_mirrored_part(batch, "e-2", 0)
    assert not metadata.is_mirrored_part(batch, "e-2", 1)
    assert not metadata.is_mirrored_part(single, "e-3", 0)
    assert metadata.mirrored_parts({"metadata": escalation_metadata("s-1")}) == set()


def test_a_resolved_root_shows_the_customers_rating_inert() -> None:
    record = {
        **record_with("resolved"),
        "satisfaction": {"rating": 2, "comment": "<!channel> too slow", "at": LATER},
    }
    view = escalation_view(SESSION, "Ann", record, [], DASHBOARD + "/", masker=UNMASKED)
    _, blocks_ = render(view)
    shown = json.dumps(blocks_)
    assert "rated the help 2/5" in shown and "too slow" in shown
    assert "<!channel>" not in shown
    unrated = escalation_view(
        SESSION, "Ann", record_with("resolved"), [], DASHBOARD, masker=UNMASKED
    )
    assert "rated the help" not in json.dumps(render(unrated)[1])


def test_a_resolved_root_says_why_the_ai_could_not_finish() -> None:
    record = {
        **record_with("resolved"),
        "learning": {"why": "needs_authority", "answer": "<!channel> refund", "at": LATER},
    }
    shown = json.dumps(
        render(escalation_view(SESSION, "Ann", record, [], DASHBOARD, masker=UNMASKED))[1]
    )
    assert "Why the AI could not finish: Needs a person's authority" in shown
    # The answer is for the supervisors' Learning page, not the channel.
    assert "refund" not in shown
    untagged = escalation_view(
        SESSION, "Ann", record_with("resolved"), [], DASHBOARD, masker=UNMASKED
    )
    assert "could not finish" not in json.dumps(render(untagged)[1])
