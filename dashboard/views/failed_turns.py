"""Failed AI turns: every turn that ended in an error, the turn's deadline or model calls, or
with no reply (agent/ai_failure.py), newest first, with whether the session went to a person."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import data, ui
from dashboard.failed_turns import failed_turn_summary, failed_turns_frame
from dashboard.formats import TIME_COLUMN_FORMAT
from dashboard.settings import DashboardSettings

REFRESH_S = 10

settings = ui.settings()
st.title("Failed AI turns")
st.caption(
    "Turns in which the AI could not answer: the model erred or answered malformed drafts, the "
    "turn's deadline or model calls ran out, or it ended with no reply. The customer was told a "
    "person will pick it up, and the session was handed off (category ai failure) unless the "
    "handoff failed too."
)


@st.fragment(run_every=REFRESH_S)
def failed_turns(settings: DashboardSettings) -> None:
    try:
        rows = data.failed_turns(settings)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    summary = failed_turn_summary(rows, datetime.now(UTC))
    columns = st.columns(3)
    columns[0].metric("Failed AI turns", summary.total)
    columns[1].metric("In the last 24 hours", summary.last_day)
    columns[2].metric("Not handed off", summary.not_handed_off)
    if summary.not_handed_off:
        st.warning(
            f"{summary.not_handed_off} failed turns did not reach a person: the handoff failed "
            "too. Open the transcript and step in."
        )
    if not rows:
        st.info("No failed AI turns.")
        return
    st.dataframe(
        failed_turns_frame(rows, settings.session_page_url),
        hide_index=True,
        width="stretch",
        column_config={
            "transcript": st.column_config.LinkColumn("transcript", display_text="Open"),
            "failed at": st.column_config.DatetimeColumn("failed at", format=TIME_COLUMN_FORMAT),
        },
        key="failed_turns_table",
    )
    st.caption(f"Refreshed every {REFRESH_S} s.")


failed_turns(settings)
