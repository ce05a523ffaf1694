"""Where and why the AI hands off, and how fast people pick handoffs up."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import copilot, data, learning, satisfaction, ui
from dashboard.formats import format_duration
from dashboard.handoff_figures import (
    breaches_per_day,
    breaches_per_reason,
    handoff_frame,
    handoff_summary,
    handoffs_per_day,
    handoffs_per_reason,
    response_times_per_day,
)
from dashboard.model import Escalation
from dashboard.token_usage import OFFLINE, billed_per_day
from handoff.learned import InvalidEntry


def show_tokens_per_day() -> None:
    """What the model endpoint billed per day (the agent's usage book, agent/nlp/gateway_usage.py)."""
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
    offline = int(per_day["offline requests"].sum())
    if not per_day["requests"].sum():
        st.info(
            f"Input and output tokens: {OFFLINE}. The {offline:,} model requests so far went to "
            "the scripted offline service (PARLANT_NLP=offline), which asks no model."
        )
        return
    columns = st.columns(3)
    columns[0].metric(f"Input tokens, {per_day.index[-1]}", f"{int(today['input tokens']):,}")
    columns[1].metric(f"Output tokens, {per_day.index[-1]}", f"{int(today['output tokens']):,}")
    columns[2].metric(f"Model requests, {per_day.index[-1]}", f"{int(today['requests']):,}")
    st.bar_chart(per_day[["input tokens", "output tokens"]])
    st.caption(
        "Every request the model endpoint answered, as it billed it: each AI turn's "
        "generations (retried and rejected ones too, and turns that ended without a reply), "
        "the agent's start-up evaluation and embeddings. Read every minute."
        + (
            f" Not counted: {offline:,} requests to the offline service ({OFFLINE})."
            if offline
            else ""
        )
    )


settings = ui.settings()
st.title("Handoff insights")
try:
    escalations = data.every_escalation(settings)
    frame = handoff_frame(escalations, settings.sla)
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
st.caption(
    f"Handoffs: every time the AI handed a conversation to a person, in {summary.sessions} "
    "sessions; the times and the charts below follow each session's latest handoff. Returned "
    "to AI: the share of those sessions a person handed back to the AI at least once."
)
claim_target = format_duration(settings.sla.claim_target.total_seconds())
reply_target = format_duration(settings.sla.first_reply_target.total_seconds())
breach_columns = st.columns(2)
breach_columns[0].metric(f"Claim target ({claim_target}) breached", summary.claim_breaches)
breach_columns[1].metric(
    f"First reply target ({reply_target}) breached", summary.first_reply_breaches
)

show_tokens_per_day()


def show_satisfaction(escalations: list[Escalation]) -> None:
    st.subheader("Customer satisfaction")
    asked = satisfaction.summary(escalations)
    shown = st.columns(4)
    shown[0].metric("Asked after a resolve", asked.asked)
    shown[1].metric("Rated", asked.rated)
    shown[2].metric("Passed over", asked.skipped)
    shown[3].metric("Average (1-5)", "–" if asked.average is None else f"{asked.average:.1f}")
    rows = satisfaction.rated(escalations)
    if not rows:
        st.caption("No ratings yet: customers are asked in the chat once a handoff is resolved.")
        return
    tabs = st.tabs(["By operator", "By reason", "By channel", "By week", "Comments"])
    groupings: tuple[satisfaction.Grouping, ...] = ("operator", "category", "channel", "week")
    for tab, grouping in zip(tabs, groupings, strict=False):
        tab.dataframe(satisfaction.by(rows, grouping), width="stretch")
    tabs[4].dataframe(satisfaction.comments(rows), hide_index=True, width="stretch")


show_satisfaction(escalations)


def show_learned_changes(escalations: list[Escalation]) -> None:
    """Handoffs per week with each accepted change's guideline and journey, before and after."""
    st.subheader("Handoffs before and after a learned change")
    try:
        entries = data.learned_entries(settings)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    except InvalidEntry as invalid:
        st.warning(f"The agent's learned file could not be read: {invalid}")
        return
    accepted = [e for e in entries if e.status == "accepted"]
    today = datetime.now(UTC).date()
    table = learning.before_after(escalations, accepted, today)
    if table.empty:
        st.caption(
            "No accepted changes yet: supervisors accept them on the Learning page, from the "
            "handoffs operators tagged on resolve."
        )
        return
    st.dataframe(table, hide_index=True, width="stretch")
    for entry in accepted:
        weeks = learning.weekly(escalations, entry, today)
        if weeks.empty:
            continue
        with st.expander(f"Per week: {learning.change_label(entry)}"):
            st.dataframe(weeks, hide_index=True, width="stretch")
    st.caption(
        "Each change counts the handoffs whose packet has the guideline its conversations "
        "handed off under, and those in their journey; the week it was accepted is split at "
        "that moment. The agent follows a change from its first start after it was accepted."
    )


show_learned_changes(escalations)


def show_copilot() -> None:
    """Drafts and held `ai:` replies: what operators did with the agent's help and checks.
    Small tables (a row a week or rule), shown whole rather than in a scrolling grid."""
    try:
        steps, holds = data.copilot(settings)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    st.subheader("Drafts in the thread")
    if not steps:
        st.caption(
            "No drafts yet: the agent drafts an answer when a customer writes during a handoff."
        )
    else:
        by_week, by_operator = st.tabs(["Drafts per week", "Drafts per operator"])
        by_week.table(copilot.drafts_per_week(steps))
        by_operator.table(copilot.drafts_per_operator(steps))
        st.caption(
            "Offered: drafts posted in a handoff's thread. Sent as is, edited (and sent), "
            "dismissed: what the operator did with one, by the week they did it."
        )
    st.subheader("Replies in the agent's name held by a rule")
    if not holds:
        st.caption(
            "No `ai:` reply held yet: one that breaks a rule (a card number, another "
            "customer's policy, a promise the agent never makes) is not sent."
        )
        return
    by_rule, per_week = st.tabs(["Held per rule", "Held per week"])
    by_rule.table(copilot.holds_per_rule(holds))
    per_week.table(copilot.holds_per_week(holds))
    st.caption(
        "Each reply held once per rule, whoever sent it; then: sent anyway (the operator "
        "overrode the rule, audited), edited (their reply went through changed) or not sent."
    )


show_copilot()

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
