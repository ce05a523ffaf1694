"""One session: its handoff timeline, the full transcript (live), exports, and stepping in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import streamlit as st

from dashboard import data, identity, operate, ui
from dashboard.customer_labels import GUEST, customer_label
from dashboard.formats import ai_mode_words, escape_markdown, format_time, safe_url
from dashboard.model import Escalation, RawEvent
from dashboard.packet_summary import packet_summary
from dashboard.settings import DashboardSettings
from dashboard.sla_badges import sla_lines
from dashboard.timeline import timeline_frame
from dashboard.token_usage import awaiting_usage, tokens_by_offset, tokens_caption
from dashboard.transcript import (
    ROLE_AVATARS,
    TranscriptEntry,
    latest_handback,
    transcript_entries,
    transcript_json,
    transcript_markdown,
    visible_window,
)
from handoff import actions
from handoff.learning import ANSWER_LIMIT, InvalidTag, Why, resolve_tag
from handoff.record import ACTIVE_STATUSES

REFRESH_S = 3
# Rendering thousands of chat bubbles makes the page crawl; older ones load on request.
PAGE_SIZE = 100


@dataclass
class TranscriptCache:
    """Events seen so far, so each refresh asks Parlant only for what came after them."""

    events: list[RawEvent] = field(default_factory=list)
    next_offset: int = 0

    def extend(self, new: list[RawEvent]) -> None:
        fresh = [e for e in new if e.offset >= self.next_offset]
        self.events.extend(fresh)
        if fresh:
            self.next_offset = fresh[-1].offset + 1


def transcript_cache(session_id: str) -> TranscriptCache:
    return cast(
        TranscriptCache, st.session_state.setdefault(f"transcript:{session_id}", TranscriptCache())
    )


def show_entry(entry: TranscriptEntry, footer: str | None = None) -> None:
    with st.chat_message(entry.role.value, avatar=ROLE_AVATARS[entry.role]):
        st.caption(f"{escape_markdown(entry.label)} · {format_time(entry.created)}")
        for call in entry.tool_calls:
            with st.expander(f"Tool: {escape_markdown(call.tool)}"):
                st.code(json.dumps(call.arguments, indent=2, default=str), language="json")
                st.code(json.dumps(call.result, indent=2, default=str), language="json")
        if not entry.tool_calls:
            # st.text, never st.markdown: customer text must not become links or HTML.
            st.text(entry.text)
        if footer:
            st.caption(footer)


def reread_replies_awaiting_usage(
    settings: DashboardSettings, session_id: str, cache: TranscriptCache
) -> None:
    """The agent writes a reply's token usage just after the reply: a reply cached in between is
    read again (once more per refresh, for a minute at most)."""
    offset = awaiting_usage(cache.events, datetime.now(UTC))
    if offset is None:
        return
    fresh = {e.offset: e for e in data.events_since(settings, session_id, offset)}
    cache.events[:] = [fresh.get(e.offset, e) for e in cache.events]


def show_header(settings: DashboardSettings, escalation: Escalation) -> None:
    record = escalation.record
    status = str(record.get("status", "not handed off"))
    st.subheader(f"Status: {escape_markdown(status)} · {ai_mode_words(escalation.mode)}")
    st.text(f"Reason: {record.get('reason', '–')}")
    for line in sla_lines(record, settings.sla, datetime.now(UTC)):
        st.text(f"SLA {line}")
    permalink = safe_url((record.get("slack") or {}).get("permalink"))
    if permalink:
        st.link_button("Open the Slack thread", permalink)
    timeline = timeline_frame(record)
    if not timeline.empty:
        st.dataframe(timeline, hide_index=True, width="stretch")
    show_packet(record)


def show_packet(record: Mapping[str, Any]) -> None:
    summary = packet_summary(record)
    if summary is None:
        return
    with st.expander("What the AI knew at handoff", expanded=True):
        st.text(f"Journey: {summary.journey or 'none'}")
        st.text("Guidelines matched:" if summary.guidelines else "Guidelines matched: none")
        for line in summary.guidelines:
            st.text(f"• {line}")
        st.text("Tool calls:" if summary.tool_calls else "Tool calls: none")
        for line in summary.tool_calls:
            st.text(f"• {line}")


def show_handback(escalation: Escalation, entries: list[TranscriptEntry]) -> None:
    """The note the AI continues from, while the session is back with the AI."""
    handback = latest_handback(entries)
    if handback is None or escalation.record.get("status") != "returned":
        return
    st.caption(f"{escape_markdown(handback.label)} · {format_time(handback.created)}")
    st.info(escape_markdown(handback.text), icon="↩️")  # st.info renders Markdown


@st.fragment(run_every=REFRESH_S)
def live_session(settings: DashboardSettings, session_id: str) -> None:
    try:
        escalation = data.session(settings, session_id)
        cache = transcript_cache(session_id)
        cache.extend(data.events_since(settings, session_id, cache.next_offset))
        reread_replies_awaiting_usage(settings, session_id, cache)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    if escalation is None:
        st.error("This session no longer exists in Parlant.")
        return
    show_header(settings, escalation)

    entries = transcript_entries(cache.events)
    show_handback(escalation, entries)
    shown_key = f"shown:{session_id}"
    shown, hidden = visible_window(entries, st.session_state.get(shown_key, PAGE_SIZE))
    if hidden:
        st.button(
            f"Load {min(PAGE_SIZE, hidden)} earlier messages ({hidden} not shown)",
            on_click=lambda: st.session_state.update(
                {shown_key: st.session_state.get(shown_key, PAGE_SIZE) + PAGE_SIZE}
            ),
            key="load_earlier",
        )
    tokens = tokens_by_offset(cache.events)
    for entry in shown:
        used = tokens.get(entry.offset)
        show_entry(entry, tokens_caption(used) if used else None)
    if not entries:
        st.info("No messages yet.")

    # Built on click, not on every refresh: a long transcript's export takes a noticeable time.
    md, js = st.columns(2)
    md.download_button(
        "Export Markdown",
        lambda: transcript_markdown(session_id, escalation.record, entries),
        file_name=f"{session_id}.md",
        mime="text/markdown",
        key="export_md",
    )
    js.download_button(
        "Export JSON",
        lambda: transcript_json(session_id, escalation.record, cache.events),
        file_name=f"{session_id}.json",
        mime="application/json",
        key="export_json",
    )


SENT: dict[actions.MessageKind, str] = {
    "human": "Sent under your name.",
    "ai": "Sent as the AI.",
    "note": "Note added.",
}


HELD_KEY = "held_reply"


def act(
    settings: DashboardSettings,
    action: operate.Action,
    session_id: str,
    done: str,
    *args: str,
    **kwargs: str,
) -> None:
    operator = identity.current_operator()
    if operator is None:
        st.error("Enter your name in the sidebar first.")
        return
    try:
        operate.perform(settings, action, session_id, operator, *args, **kwargs)
    except operate.ReplyWasHeld as held:
        # Kept (the form cleared on submit) for *Send anyway* below the form.
        st.session_state[HELD_KEY] = {
            "session": session_id,
            "text": args[0],
            "rule": held.rule,
            "why": str(held),
        }
        st.rerun()
    except operate.ActionFailed as failure:
        st.error(str(failure))
        return
    st.session_state.pop(HELD_KEY, None)
    ui.flash(done)
    st.rerun()


def held_reply(settings: DashboardSettings, session_id: str) -> None:
    """A reply as the AI the agent held: why, what it said, and *Send anyway* (recorded with
    the message) or *Discard* (edit it in the box above and send again)."""
    held = st.session_state.get(HELD_KEY)
    if not held or held["session"] != session_id:
        return
    st.warning(held["why"] + " Send it anyway (recorded with the message), or write it again.")
    st.text(held["text"])
    anyway, discard = st.columns(2)
    if anyway.button("Send anyway as the AI", key="send_held"):
        act(
            settings,
            actions.send_as_ai,
            session_id,
            "Sent as the AI despite the rule (recorded).",
            held["text"],
            override=held["rule"],
        )
    if discard.button("Discard", key="discard_held"):
        st.session_state.pop(HELD_KEY, None)
        st.rerun()


def step_in(settings: DashboardSettings, escalation: Escalation) -> None:
    status = escalation.record.get("status")
    session_id = escalation.session_id
    st.subheader("Step in")
    if identity.current_operator() is None:
        st.info("Enter your name in the sidebar to act on this session.")
        return

    with st.form("reply", clear_on_submit=True):
        text = st.text_area("Message to the customer, or an internal note", key="reply_text")
        # Full-width and one per line: the three must never be confused for each other.
        send_human = st.form_submit_button("Send as me", type="primary", width="stretch")
        send_ai = st.form_submit_button("Send as the AI", width="stretch")
        add_note = st.form_submit_button("Add internal note", width="stretch")
    kind: actions.MessageKind | None = (
        "human" if send_human else "ai" if send_ai else "note" if add_note else None
    )
    if kind:
        if text.strip():
            act(settings, actions.SEND_BY_KIND[kind], session_id, SENT[kind], text.strip())
        else:
            st.error("Write the message or note first.")
    held_reply(settings, session_id)

    if status in ACTIVE_STATUSES:
        # Once claimed the button has done its job: the assignee shows in the timeline.
        if status == "waiting" and st.button("Claim", key="claim"):
            act(settings, actions.claim, session_id, "Claimed.")
        resolve_form(settings, session_id, "Resolved; the AI answers from now on.")
        with st.form("return_to_ai"):
            handback = st.text_area(
                "Handback note for the AI",
                key="handback_note",
                max_chars=actions.HANDBACK_NOTE_LIMIT,
                placeholder="What was done, and what the customer should hear next",
                help="Required, as in Slack: the AI answers the customer's next message from it.",
            )
            if st.form_submit_button("Return to AI"):
                problem = actions.handback_note_problem(handback)
                if problem:
                    st.error(problem)
                else:
                    act(
                        settings,
                        actions.return_to_ai,
                        session_id,
                        "Returned to the AI.",
                        handback.strip(),
                    )
    else:
        if st.button("Take over", key="take_over"):
            act(settings, actions.take_over, session_id, "Taken over; the AI is silent again.")
        if status != "resolved":
            resolve_form(settings, session_id, "Resolved.")


def resolve_form(settings: DashboardSettings, session_id: str, done: str) -> None:
    """Resolve, with why the AI could not finish and the answer it should have given
    (handoff/learning.py), as the Slack resolve form asks."""
    with st.form("resolve"):
        why = st.radio(
            "Why could the AI not finish?",
            list(Why),
            index=None,
            format_func=lambda w: w.label,
            key="resolve_why",
        )
        answer = st.text_area(
            "The answer the AI should have given (optional)",
            key="resolve_answer",
            max_chars=ANSWER_LIMIT,
            help="Supervisors turn these into guidelines on the Learning page. "
            "The customer does not see it.",
        )
        if not st.form_submit_button("Resolve"):
            return
    try:
        tag = resolve_tag(why.value if why else None, answer)
    except InvalidTag as invalid:
        st.error(str(invalid))
        return
    operator = identity.current_operator()
    if operator is None:
        st.error("Enter your name in the sidebar first.")
        return
    try:
        operate.perform(settings, actions.resolve, session_id, operator, tag)
    except operate.ActionFailed as failure:
        st.error(str(failure))
        return
    ui.flash(done)
    st.rerun()


settings = ui.settings()
session_id = st.query_params.get("session", "").strip()
if not session_id:
    st.title("Session")
    st.info("Open a session from the queue, or paste a session id:")
    typed = st.text_input("Session id", key="session_lookup").strip()
    if typed:
        st.query_params["session"] = typed
        st.rerun()
    st.stop()

try:
    escalation = data.session(settings, session_id)
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)
if escalation is None:
    st.title("Session")
    st.error(
        f"No session with id {escape_markdown(session_id)} exists in Parlant. "
        "Check the link, or open the session from the queue."
    )
    st.stop()

st.title("Session")
customer = escalation.customer_id
named = customer_label(customer, data.customer_names(settings, [customer]))
st.caption(
    f"{escape_markdown(session_id)} · customer {escape_markdown(named)}"
    + ("" if named in (customer, GUEST) else f" ({escape_markdown(customer)})")
)
ui.show_flash()
transcript_column, actions_column = st.columns([3, 2], gap="large")
with transcript_column:
    live_session(settings, session_id)
with actions_column:
    step_in(settings, escalation)
