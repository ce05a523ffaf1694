"""The dashboard's entry point (`streamlit run dashboard/app.py`): access gate and navigation."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, identity, ui

st.set_page_config(page_title="Escalations", page_icon="🛟", layout="wide")
ui.configure_logging()

settings = ui.settings()
if not auth.gate(settings):
    st.stop()

page = st.navigation(
    [
        st.Page("views/queue.py", title="Queue", icon="📋", default=True),
        st.Page("views/session.py", title="Session", icon="💬", url_path="session"),
        st.Page("views/insights.py", title="Insights", icon="📈", url_path="insights"),
        st.Page("views/learning.py", title="Learning", icon="🎓", url_path="learning"),
        st.Page(
            "views/failed_turns.py", title="Failed AI turns", icon="⚠️", url_path="failed-turns"
        ),
        st.Page("views/canned.py", title="Canned replies", icon="🗂️", url_path="canned-replies"),
    ]
)
identity.sidebar()
auth.sign_out_link(settings)
page.run()
