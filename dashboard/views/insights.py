"""Where and why the AI hands off, and how fast people pick handoffs up."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.render import (
    breaches_per_day,
    breaches_per_reason,
    format_duration,
    handoff_frame,
    handoff_summary,
    handoffs_per_day,
    handoffs_per_reason,
    response_times_per_day,
)
from dashboard.token_usage import billed_per_day


def show_tokens_per_day() -> None:
    """What the model endpoint billed per day (the agent's usage book, agent/gateway_usage.py)."""
    try:
        rows = data.billed_usage(settings)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    per_day = billed_per_day(rows)
    st.subheader("LLM tokens per day")
    if per_day.empty:
        st.info("No model requests yet.")
        return
    today = per_day.iloc[-1]
    columns = st.columns(3)
    columns[0].metric(f"Input tokens, {per_day.index[-1]}", f"{int(today['input tokens']):,}")
    columns[1].metric(f"Output tokens, {per_day.index[-1]}", f"{int(today['output tokens']):,}")
    columns[2].metric(f"Model requests, {per_day.index[-1]}", f"{int(today['requests']):,}")
    st.bar_chart(per_day[["input tokens", "output tokens"]])
    st.caption(
        "Every request the model endpoint answered, as it billed it: each AI turn's "
        "generations (retried and rejected ones too, and turns that ended without a reply), "
        "the agent's start-up evaluation and embeddings. The offline service reports "
        "estimates. Read every minute."
    )


settings = ui.settings()
st.title("Handoff insights")
try:
    frame = handoff_frame(data.every_escalation(settings), settings.sla)
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)

summary = handoff_summary(frame)
columns = st.columns(6)
columns[0].metric("Handoffs", summary.handoffs)
columns[1].metric("Time to claim, median", format_duration(summary.claim_median_s))
columns[2].metric("Time to claim, p90", format_duration(summary.claim_p90_s))
columns[3].metric("First human reply, median", format_duration(summary.reply_median_s))
columns[4].metric("First human reply, p90", format_duration(summary.reply_p90_s))
columns[5].metric(
    "Returned to AI", "–" if summary.return_rate is None else f"{summary.return_rate:.0%}"
)
st.caption("Returned to AI: the share of handoffs a person handed back to the AI at least once.")
claim_target = format_duration(settings.sla.claim_target.total_seconds())
reply_target = format_duration(settings.sla.first_reply_target.total_seconds())
breach_columns = st.columns(2)
breach_columns[0].metric(f"Claim target ({claim_target}) breached", summary.claim_breaches)
breach_columns[1].metric(
    f"First reply target ({reply_target}) breached", summary.first_reply_breaches
)

show_tokens_per_day()

if frame.empty:
    st.info("No handoffs yet.")
    st.stop()

st.subheader("Handoffs per day")
st.bar_chart(handoffs_per_day(frame))

st.subheader("Handoffs per reason category")
per_category = handoffs_per_reason(frame, by="category")
st.bar_chart(per_category["handoffs"], horizontal=True)
st.dataframe(per_category, width="stretch")

st.subheader("Response times per day (minutes)")
st.line_chart(response_times_per_day(frame))

st.subheader("SLA breaches per day")
st.caption(
    "Handoffs whose claim or first-reply target passed, by the day of the handoff"
    + (" (business hours only)." if not settings.sla.hours.around_the_clock else ".")
)
st.bar_chart(breaches_per_day(frame))

st.subheader("SLA breaches per reason category")
per_reason_breaches = breaches_per_reason(frame, by="category")
if per_reason_breaches.empty:
    st.info("No breached targets.")
else:
    st.bar_chart(per_reason_breaches, horizontal=True)
