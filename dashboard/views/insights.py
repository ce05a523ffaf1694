"""Where and why the AI hands off, and how fast people pick handoffs up."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.render import (
    format_duration,
    handoff_frame,
    handoff_summary,
    handoffs_per_day,
    handoffs_per_reason,
    response_times_per_day,
)

settings = ui.settings()
st.title("Handoff insights")
try:
    frame = handoff_frame(data.escalations(settings))
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)

summary = handoff_summary(frame)
columns = st.columns(6)
columns[0].metric("Handoffs", summary.handoffs)
columns[1].metric("Time to claim, median", format_duration(summary.claim_median_s))
columns[2].metric("Time to claim, p90", format_duration(summary.claim_p90_s))
columns[3].metric("First human reply, median", format_duration(summary.reply_median_s))
columns[4].metric("First human reply, p90", format_duration(summary.reply_p90_s))
columns[5].metric("Returned to AI",
                  "–" if summary.return_rate is None else f"{summary.return_rate:.0%}")
st.caption("Returned to AI: the share of handoffs a person handed back to the AI at least once.")

if frame.empty:
    st.info("No handoffs yet.")
    st.stop()

st.subheader("Handoffs per day")
st.bar_chart(handoffs_per_day(frame))

st.subheader("Handoffs per reason")
per_reason = handoffs_per_reason(frame)
st.bar_chart(per_reason["handoffs"], horizontal=True)
st.dataframe(per_reason, width="stretch")

st.subheader("Response times per day (minutes)")
st.line_chart(response_times_per_day(frame))
