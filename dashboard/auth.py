"""The access gate: Streamlit's OIDC login when configured, and/or DASHBOARD_PASSWORD."""

from __future__ import annotations

import hmac
import logging

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)

UNLOCKED_KEY = "dashboard_unlocked"


def oidc_configured() -> bool:
    """True when secrets.toml has an [auth] section (st.login needs one)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def password_matches(entered: str, expected: str) -> bool:
    # Constant-time comparison: response timing must not reveal how much of a guess was right.
    return hmac.compare_digest(entered.encode(), expected.encode())


def _login() -> bool:
    if st.user.get("is_logged_in", False):
        return True
    st.title("Supervisor dashboard")
    st.button("Log in", on_click=st.login, type="primary")
    return False


def _password(expected: str) -> bool:
    if st.session_state.get(UNLOCKED_KEY):
        return True
    st.title("Supervisor dashboard")
    with st.form("password_gate"):
        entered = st.text_input("Password", type="password", key="dashboard_password")
        submitted = st.form_submit_button("Enter")
    if submitted:
        if password_matches(entered, expected):
            st.session_state[UNLOCKED_KEY] = True
            st.rerun()
        log.warning("dashboard password refused")
        st.error("Wrong password.")
    return False


def gate(settings: DashboardSettings) -> bool:
    """Whether the visitor may see the dashboard; draws the login or password form if not."""
    if oidc_configured() and not _login():
        return False
    return settings.password is None or _password(settings.password)
