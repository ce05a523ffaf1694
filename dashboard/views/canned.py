"""Canned replies: supervisors add, change and delete the saved replies operators send from
Slack (the *Send a canned reply* shortcut on a message in an escalation thread)."""

from __future__ import annotations

import streamlit as st

from agent.canned_text import BODY_LIMIT, CATEGORY_LIMIT, PLACEHOLDERS, TITLE_LIMIT, fill
from dashboard import canned, identity, ui
from dashboard.canned import SavedReply
from dashboard.formats import escape_markdown

# How a reply reads for the demo's sample customer, shown under each one.
SAMPLE_VALUES = {
    "customer_name": "Sam Carter",
    "first_name": "Sam",
    "policy_number": "POL-1001",
}
# The new-reply form gets a fresh key after each save, so it comes back empty; a refused one
# keeps what was typed (clear_on_submit would lose it).
NEW_FORM_ROUND = "canned_new_round"


def editor(key: str, reply: SavedReply | None) -> None:
    with st.form(key, border=reply is None):
        title = st.text_input(
            "Title", value=reply.title if reply else "", max_chars=TITLE_LIMIT, key=f"{key}-title"
        )
        category = st.text_input(
            "Category (optional)",
            value=reply.category if reply else "",
            max_chars=CATEGORY_LIMIT,
            key=f"{key}-category",
        )
        body = st.text_area(
            "Text",
            value=reply.body if reply else "",
            max_chars=BODY_LIMIT,
            height=140,
            key=f"{key}-body",
        )
        submitted = st.form_submit_button("Save changes" if reply else "Add reply")
    if not submitted:
        return
    operator = identity.current_operator()
    try:
        saved = canned.save(
            settings,
            reply.id if reply else None,
            title,
            body,
            category,
            operator.name if operator else "",
        )
    except canned.NotSaved as refusal:
        st.error(str(refusal))
        return
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    if reply is None:
        st.session_state[NEW_FORM_ROUND] = st.session_state.get(NEW_FORM_ROUND, 0) + 1
    ui.flash(f"Saved “{saved.title}”.")
    st.rerun()


def show(reply: SavedReply) -> None:
    label = f"{reply.title} · {reply.category}" if reply.category else reply.title
    confirm_key = f"canned-confirm-{reply.id}"
    # Open while a delete waits for its confirmation, so the question is in view.
    with st.expander(escape_markdown(label), expanded=bool(st.session_state.get(confirm_key))):
        preview = fill(reply.body, SAMPLE_VALUES)
        st.caption("As Sam Carter (POL-1001) would read it:")
        st.text(preview.text if preview.text is not None else preview.problem or "")
        editor(f"canned-{reply.id}", reply)
        who = f" by {reply.updated_by}" if reply.updated_by else ""
        st.caption(escape_markdown(f"Last saved {reply.updated_at[:16].replace('T', ' ')}{who}."))
        if not st.session_state.get(confirm_key):
            if st.button("Delete", key=f"canned-delete-{reply.id}"):
                st.session_state[confirm_key] = True  # asked once more: a click is easily made
                st.rerun()
            return
        st.warning("Delete this reply? Operators can no longer send it.")
        keep, confirm = st.columns(2)
        if keep.button("Keep it", key=f"canned-keep-{reply.id}"):
            st.session_state.pop(confirm_key, None)
            st.rerun()
        if confirm.button("Yes, delete it", key=f"canned-delete-yes-{reply.id}", type="primary"):
            try:
                canned.delete(settings, reply.id)
            except ui.READ_ERRORS as error:
                ui.unreachable(settings, error)
            st.session_state.pop(confirm_key, None)
            ui.flash(f"Deleted “{reply.title}”.")
            st.rerun()


settings = ui.settings()
st.title("Canned replies")
known = ", ".join(f"`{{{name}}}` ({why})" for name, why in PLACEHOLDERS.items())
st.caption(
    "Operators send these from Slack: the *Send a canned reply* shortcut on a message in an "
    f"escalation thread. Placeholders are filled from the customer's record: {known}. A reply "
    "whose placeholder has no value for a customer is not sent; the operator is told why."
)
ui.show_flash()
try:
    replies = canned.saved_replies(settings)
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)

st.subheader("New reply")
editor(f"canned-new-{st.session_state.get(NEW_FORM_ROUND, 0)}", None)
st.subheader(f"Saved replies ({len(replies)})")
if not replies:
    st.info("No saved replies yet.")
for saved_reply in replies:
    show(saved_reply)
