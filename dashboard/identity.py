"""Who the supervisor is: their OIDC name when logged in, else the name they typed in the sidebar."""

from __future__ import annotations

import re

import streamlit as st

from dashboard import auth
from dashboard.render import escape_markdown
from handoff.actions import Operator

NAME_KEY = "supervisor_name"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")


def operator_for(name: str) -> Operator | None:
    """The operator identity the shared actions record; None until a usable name is given."""
    name = " ".join(name.split())
    if not slug(name):
        return None
    return Operator(id=f"dashboard:{slug(name)}", name=name, origin="dashboard")


def _oidc_name() -> str | None:
    if not auth.oidc_configured() or not st.user.get("is_logged_in", False):
        return None
    return str(st.user.get("name") or st.user.get("email") or "") or None


def sidebar() -> None:
    """The name field (kept in session_state across pages) or the logged-in user and a log-out."""
    with st.sidebar:
        name = _oidc_name()
        if name:
            st.caption(f"Signed in as {escape_markdown(name)}")
            st.button("Log out", on_click=st.logout)
            return
        # app.py draws this on every page, so Streamlit keeps its value while navigating.
        st.text_input("Your name (kept with your actions)", key=NAME_KEY)


def current_operator() -> Operator | None:
    return operator_for(_oidc_name() or st.session_state.get(NAME_KEY, ""))
