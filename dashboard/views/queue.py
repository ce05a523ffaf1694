"""The escalation queue: open handoffs, most urgent first, refreshed live; closed ones (returned,
resolved) come from the history a page at a time, when the status filter asks for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import data, ui
from dashboard.formats import TIME_COLUMN_FORMAT
from dashboard.queue_rows import (
    STATUS_ORDER,
    QueueFilter,
    QueueRow,
    filter_choices,
    filter_rows,
    queue_csv,
    queue_frame,
    queue_rows,
    sla_counts,
    slack_backlog_lines,
    status_counts,
)
from dashboard.settings import DashboardSettings

REFRESH_S = 5
# Transcript search fetches each candidate's messages; past this many, narrow with filters.
SEARCH_LIMIT = 500
HISTORY_PAGE = 50
CLOSED_STATUSES = frozenset(STATUS_ORDER) - {"waiting", "claimed"}

settings = ui.settings()

# Slack root messages link to DASHBOARD_URL/?session=<id>: forward them to the session page.
if deep_link := st.query_params.get("session"):
    st.switch_page("views/session.py", query_params={"session": deep_link})

st.title("Escalation queue")


def listed(settings: DashboardSettings, history: int) -> list[QueueRow]:
    """Open handoffs, and the `history` most recently closed ones when asked for, as rows with
    the customers' names."""
    escalations = data.escalations(settings)
    if history:
        escalations = escalations + data.closed_escalations(settings, history)
    names = data.customer_names(settings, (e.customer_id for e in escalations))
    return queue_rows(
        escalations, datetime.now(UTC), settings.session_page_url, settings.sla, names
    )


history_size = st.session_state.get("queue_history", 0)
try:
    initial = listed(settings, history_size)
except ui.READ_ERRORS as error:
    ui.unreachable(settings, error)
reasons, operators = filter_choices(initial)

with st.expander("Filters and search", expanded=True):
    left, middle, right = st.columns(3)
    statuses = left.multiselect(
        "Status", list(STATUS_ORDER), default=["waiting", "claimed"], key="queue_status"
    )
    chosen_reasons = middle.multiselect("Reason", reasons, key="queue_reason")
    chosen_operators = right.multiselect("Assignee", operators, key="queue_operator")
    since = left.date_input("Handed off from", value=None, key="queue_since")
    until = middle.date_input("Handed off until", value=None, key="queue_until")
    query = right.text_input("Search transcripts", key="queue_search").strip()

wants_history = bool(frozenset(statuses) & CLOSED_STATUSES)
if wants_history and not history_size:
    history_size = st.session_state["queue_history"] = HISTORY_PAGE
elif not wants_history:
    history_size = st.session_state["queue_history"] = 0

chosen = QueueFilter(
    statuses=frozenset(statuses),
    reasons=frozenset(chosen_reasons),
    operators=frozenset(chosen_operators),
    since=since,
    until=until,
)


def clicked_row(selection: Any) -> int | None:
    """The row a supervisor clicked: a cell of it, or its row marker."""
    if selection.get("cells"):
        return int(selection["cells"][0][0])
    if selection.get("rows"):
        return int(selection["rows"][0])
    return None


@st.fragment(run_every=REFRESH_S)
def live_queue(settings: DashboardSettings, chosen: QueueFilter, query: str, history: int) -> None:
    try:
        rows = listed(settings, history)
    except ui.READ_ERRORS as error:
        ui.unreachable(settings, error)
    counts = status_counts(rows)
    for column, status in zip(st.columns(len(STATUS_ORDER)), STATUS_ORDER, strict=True):
        column.metric(status.capitalize(), counts[status])
    flagged = sla_counts(rows)
    if flagged["breached"] or flagged["due_soon"]:
        st.warning(
            f"SLA: {flagged['breached']} open handoffs breached, {flagged['due_soon']} due soon."
        )

    try:
        for line in slack_backlog_lines(data.slack_backlog(settings)):
            st.warning(line)
    except ui.READ_ERRORS:
        pass  # the queue itself said if the agent is unreachable; this line is extra

    shown = filter_rows(rows, chosen)
    if query:
        candidates = shown[:SEARCH_LIMIT]
        try:
            hits = data.search_transcripts(settings, [r.session_id for r in candidates], query)
        except ui.READ_ERRORS as error:
            ui.unreachable(settings, error)
        if len(shown) > SEARCH_LIMIT:
            st.caption(
                f"Searched the {SEARCH_LIMIT} most urgent of {len(shown)} matching sessions; "
                "narrow the filters to search the rest."
            )
        shown = filter_rows(candidates, QueueFilter(matching_sessions=hits))

    scope = f"open and the {history} most recently closed" if history else "open"
    st.caption(
        f"{len(shown)} of {len(rows)} escalated sessions ({scope}) · refreshed every {REFRESH_S} s"
    )
    table = st.dataframe(
        queue_frame(shown),
        hide_index=True,
        width="stretch",
        column_config={
            # First, so it is on screen at 1,280 px; a click anywhere in a row also opens it.
            "session": st.column_config.LinkColumn("session", display_text="Open", width="small"),
            "customer": st.column_config.TextColumn("customer", width="medium"),
            # The whole name: "small" cut it.
            "assignee": st.column_config.TextColumn("assignee", width="medium"),
            "slack": st.column_config.LinkColumn("slack", display_text="Thread"),
            "requested at": st.column_config.DatetimeColumn(
                "requested at", format=TIME_COLUMN_FORMAT
            ),
        },
        on_select="rerun",
        selection_mode=["single-row", "single-cell"],
        key="queue_table",
    )
    if (chosen_row := clicked_row(table.selection)) is not None and chosen_row < len(shown):
        # Picked up again on the way back otherwise, and the queue would open it at once.
        st.session_state.pop("queue_table", None)
        st.switch_page("views/session.py", query_params={"session": shown[chosen_row].session_id})
    # Built on click, not on every refresh.
    st.download_button(
        "Export CSV",
        lambda: queue_csv(shown),
        file_name="escalations.csv",
        mime="text/csv",
        key="queue_export",
    )


live_queue(settings, chosen, query, history_size)
if history_size and st.button(f"Load {HISTORY_PAGE} more closed handoffs", key="queue_more"):
    st.session_state["queue_history"] = history_size + HISTORY_PAGE
    st.rerun()
