"""Who the supervisor is: their OIDC name when logged in, else the name they typed in the sidebar."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote, unquote

import streamlit as st
import streamlit.components.v1 as components

from dashboard import auth
from dashboard.formats import escape_markdown
from handoff.actions import Operator

NAME_KEY = "supervisor_name"
# The typed name is kept in this browser in a plain cookie (it is not a secret), so a reload or
# a new tab from a Slack link does not ask for it again.
NAME_COOKIE = "escalations_supervisor_name"
NAME_COOKIE_DAYS = 90
_WRITTEN_KEY = "supervisor_name_cookie"


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
        if NAME_KEY not in st.session_state:
            cookie = st.context.cookies.get(NAME_COOKIE)
            # Only a browser sends cookies (AppTest has a stand-in object here).
            remembered = unquote(cookie) if isinstance(cookie, str) else ""
            st.session_state[NAME_KEY] = remembered
            st.session_state[_WRITTEN_KEY] = remembered
        # app.py draws this on every page, so Streamlit keeps its value while navigating.
        st.text_input("Your name (kept with your actions)", key=NAME_KEY)
        typed = " ".join(str(st.session_state.get(NAME_KEY, "")).split())
        if typed != st.session_state.get(_WRITTEN_KEY):
            remember_name(typed)
            st.session_state[_WRITTEN_KEY] = typed


def name_cookie_script(name: str, now: float) -> str:
    """A script that stores (or, for "", clears) the name cookie; percent-encoded, the name
    has no character that could end the string or the script tag."""
    max_age = NAME_COOKIE_DAYS * 86400 if name else 0
    value = json.dumps(quote(name, safe=""))
    # `now` makes each script distinct, so Streamlit renders a new frame for each change.
    return (
        f"<script>/* {int(now)} */ document.cookie = '{NAME_COOKIE}=' + {value} "
        f"+ '; path=/; max-age={max_age}; samesite=lax';</script>"
    )


def remember_name(name: str) -> None:
    # Streamlit cannot set cookies from the server; a zero-height frame of the same origin can.
    components.html(name_cookie_script(name, time.time()), height=0)


def current_operator() -> Operator | None:
    return operator_for(_oidc_name() or st.session_state.get(NAME_KEY, ""))
