"""The access gate: Streamlit's OIDC login when configured, and/or DASHBOARD_PASSWORD.

The password is entered on the server's /signin page (`dashboard/gated_app.py`), which sets a
signed HttpOnly cookie; this script-side check reads that cookie again, so a page never renders
without it even if the server's gate were bypassed.
"""

from __future__ import annotations

import logging
import time

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard.settings import DashboardSettings
from dashboard.signin import COOKIE_NAME, password_matches, signing_key, token_expiry

__all__ = ["UNLOCKED_KEY", "gate", "oidc_configured", "password_matches"]

log = logging.getLogger(__name__)

# The sign-in's expiry (epoch seconds) once this browser session showed a valid cookie.
UNLOCKED_KEY = "dashboard_unlocked_until"


def oidc_configured() -> bool:
    """True when secrets.toml has an [auth] section (st.login needs one)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def _login() -> bool:
    if st.user.get("is_logged_in", False):
        return True
    st.title("Supervisor dashboard")
    st.button("Log in", on_click=st.login, type="primary")
    return False


def _signed_in(password: str) -> bool:
    now = time.time()
    if float(st.session_state.get(UNLOCKED_KEY) or 0) > now:
        return True
    cookie = st.context.cookies.get(COOKIE_NAME)
    token = cookie if isinstance(cookie, str) else None  # only a browser sends cookies
    expiry = token_expiry(signing_key(password), token, now)
    if expiry is None:
        return False
    st.session_state[UNLOCKED_KEY] = expiry
    return True


def _password(password: str) -> bool:
    if _signed_in(password):
        return True
    st.title("Supervisor dashboard")
    st.info("Sign in with the dashboard password to continue.")
    st.link_button("Sign in", "/signin", type="primary")
    return False


def sign_out_link(settings: DashboardSettings) -> None:
    if settings.password is not None:
        st.sidebar.link_button("Sign out", "/signout")


def gate(settings: DashboardSettings) -> bool:
    """Whether the visitor may see the dashboard; draws the login or sign-in link if not."""
    if oidc_configured() and not _login():
        return False
    return settings.password is None or _password(settings.password)
