"""Learning from handoffs: the operators' tags on resolve, grouped; proposals made from them,
reviewed beside the conversations they came from; accepted into the agent's learned file."""

from __future__ import annotations

import hashlib

import streamlit as st

from dashboard import data, identity, learning, operate, ui
from dashboard.formats import TIME_COLUMN_FORMAT, escape_markdown, format_time
from dashboard.settings import DashboardSettings
from dashboard.transcript import ROLE_AVATARS, Role, transcript_entries
from handoff.learned import InvalidEntry, LearnedEntry
from handoff.learning import Why

# What a reviewer needs to judge a proposal: what was said, not the tool calls or system events.
SHOWN_ROLES = frozenset({Role.CUSTOMER, Role.AI, Role.HUMAN, Role.HUMAN_AS_AI, Role.NOTE})


def key_of(group: learning.Group) -> str:
    """The group's widget keys: another reason filter can give a group of the same title other
    handoffs, whose form must not keep the first one's answer."""
    members = "\n".join([group.title, *sorted(t.session_id for t in group.handoffs)])
    return hashlib.blake2b(members.encode(), digest_size=6).hexdigest()


def propose_form(settings: DashboardSettings, group: learning.Group) -> None:
    group_key = key_of(group)
    generation = int(st.session_state.get(f"generation:{group_key}", 0))
    key = f"{group_key}:{generation}"
    sessions = [t.session_id for t in group.handoffs]
    answer = group.answers[0] if group.answers else ""
    kind = st.radio(
        "Turn it into", ["Guideline", "Glossary term"], horizontal=True, key=f"kind:{key}"
    )
    with st.form(f"propose:{key}", clear_on_submit=False):
        chosen = st.multiselect(
            "From the conversations", sessions, default=sessions, key=f"sessions:{key}"
        )
        if kind == "Guideline":
            fields = {
                "kind": "guideline",
                "condition": st.text_input(
                    "When (the condition)",
                    key=f"condition:{key}",
                    placeholder="The customer asks whether roadside assistance is covered",
                ),
                "action": st.text_area(
                    "Then (the action)",
                    key=f"action:{key}",
                    placeholder="Say it comes with every car policy and give the number to call",
                ),
                "customer_words": learning.lines(
                    st.text_area(
                        "The customer's words, one per line",
                        key=f"words:{key}",
                        help="With the offline NLP the guideline applies when the customer's "
                        "message has one of these; a real LLM reads the condition instead.",
                    )
                ),
                "reply": st.text_area(
                    "What the AI says (offline)",
                    value=answer,
                    key=f"reply:{key}",
                    help="The offline NLP's line for this guideline; from the operator's answer.",
                ),
            }
        else:
            fields = {
                "kind": "term",
                "name": st.text_input("Term", key=f"name:{key}"),
                "description": st.text_area("What it means", value=answer, key=f"desc:{key}"),
                "synonyms": learning.lines(
                    st.text_area("Synonyms, one per line", key=f"synonyms:{key}")
                ),
            }
        submitted = st.form_submit_button("Propose")
    if not submitted:
        return
    operator = identity.current_operator()
    if operator is None:
        st.error("Enter your name in the sidebar first.")
        return
    body = learning.proposal_body(group, chosen, fields, {"id": operator.id, "name": operator.name})
    try:
        operate.propose(settings, body)
    except operate.ActionFailed as failure:
        st.error(str(failure))
        return
    # New widgets (new keys) for the next proposal from this group: a proposal that was
    # refused above keeps what was typed.
    st.session_state[f"generation:{group_key}"] = generation + 1
    ui.flash("Proposed: review it below, beside the conversations it came from.")
    st.rerun()


def show_groups(settings: DashboardSettings, rows: list[learning.Tagged]) -> None:
    st.subheader("Why the AI could not finish")
    if not rows:
        st.info(
            "No tagged handoffs yet: operators say why the AI could not finish when they "
            "resolve a handoff, in Slack or on the session page."
        )
        return
    whys = st.multiselect(
        "Reasons",
        list(Why),
        default=[Why.MISSING_KNOWLEDGE, Why.AI_MISTAKE],
        format_func=lambda w: w.label,
        key="learning_whys",
    )
    found = learning.groups(rows, whys)
    st.caption(
        f"{len(rows)} tagged handoffs; {sum(len(g.handoffs) for g in found)} with these reasons, "
        "grouped by the guideline matched when the AI handed off, the journey it was in and the "
        "handoff's reason category."
    )
    for i, group in enumerate(found):
        with st.expander(f"{group.title} ({len(group.handoffs)})", expanded=i == 0):
            st.dataframe(
                learning.group_frame(group, settings.session_page_url),
                hide_index=True,
                width="stretch",
                column_config={
                    "session": st.column_config.LinkColumn("session", display_text="Open"),
                    "resolved": st.column_config.DatetimeColumn(format=TIME_COLUMN_FORMAT),
                },
            )
            propose_form(settings, group)


def show_conversation(settings: DashboardSettings, session_id: str) -> None:
    st.caption(f"Session {escape_markdown(session_id)}")
    try:
        entries = transcript_entries(data.events_since(settings, session_id, 0))
    except ui.READ_ERRORS as error:
        st.warning(f"Could not read this conversation ({type(error).__name__}).")
        return
    with st.container(height=320):
        for entry in entries:
            if entry.role not in SHOWN_ROLES:
                continue
            with st.chat_message(entry.role.value, avatar=ROLE_AVATARS[entry.role]):
                st.caption(f"{escape_markdown(entry.label)} · {format_time(entry.created)}")
                st.text(entry.text)  # never Markdown: customer text stays text


def show_entry(entry: LearnedEntry) -> None:
    origin = entry.origin
    if entry.kind == "guideline":
        st.markdown("**Proposed guideline**")
        st.text(f"When: {entry.condition}")
        st.text(f"Then: {entry.action}")
        st.text(f"Customer's words: {', '.join(entry.customer_words) or '–'}")
        st.text(f"What the AI says (offline): {entry.reply or '–'}")
    else:
        st.markdown("**Proposed glossary term**")
        st.text(f"Term: {entry.name}")
        st.text(f"Means: {entry.description}")
        st.text(f"Synonyms: {', '.join(entry.synonyms) or '–'}")
    st.caption(
        f"Proposed by {escape_markdown(origin.proposed_by.name)} at "
        f"{escape_markdown(origin.proposed_at)}, from {len(origin.sessions)} conversation(s)"
    )


def decide(settings: DashboardSettings, entry: LearnedEntry, decision: str) -> None:
    operator = identity.current_operator()
    if operator is None:
        st.error("Enter your name in the sidebar first.")
        return
    try:
        operate.decide(settings, entry.id, decision, operator)
    except operate.ActionFailed as failure:
        st.error(str(failure))
        return
    ui.flash(
        "Accepted into the learned file: the agent follows it from its next start."
        if decision == "accept"
        else "Rejected."
    )
    st.rerun()


def show_proposals(settings: DashboardSettings, entries: list[LearnedEntry]) -> None:
    st.subheader("Proposals to review")
    proposed = [e for e in entries if e.status == "proposed"]
    if not proposed:
        st.info("No proposals waiting.")
        return
    for entry in proposed:
        with st.container(border=True):
            proposal_column, conversations_column = st.columns([2, 3], gap="large")
            with proposal_column:
                show_entry(entry)
                accept, reject = st.columns(2)
                if accept.button("Accept", key=f"accept:{entry.id}", type="primary"):
                    decide(settings, entry, "accept")
                if reject.button("Reject", key=f"reject:{entry.id}"):
                    decide(settings, entry, "reject")
            with conversations_column:
                st.markdown("**The conversations it came from**")
                for session_id in entry.origin.sessions:
                    show_conversation(settings, session_id)


def show_decided(entries: list[LearnedEntry]) -> None:
    decided = [e for e in entries if e.status != "proposed"]
    st.subheader("Accepted and rejected")
    if not decided:
        st.caption("Nothing decided yet.")
        return
    st.dataframe(
        [
            {
                "status": e.status,
                "change": learning.change_label(e),
                "decided by": e.origin.decided_by.name if e.origin.decided_by else "–",
                "decided": e.origin.decided_at,
                "proposed by": e.origin.proposed_by.name,
                "sessions": ", ".join(e.origin.sessions),
            }
            for e in reversed(decided)
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "Accepted entries are in the agent's learned file (AGENT_LEARNED_FILE), with their "
        "origin; the agent declares them when it next starts. Insights shows the handoffs per "
        "week with their guideline and journey before and after."
    )


settings = ui.settings()
st.title("Learning from handoffs")
ui.show_flash()
try:
    escalations = data.every_escalation(settings)
    learned = data.learned_entries(settings)
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)
except InvalidEntry as invalid:
    st.error(f"The agent's learned file could not be read: {invalid}")
    st.stop()
show_groups(settings, learning.tagged(escalations))
show_proposals(settings, learned)
show_decided(learned)
