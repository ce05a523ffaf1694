"""Small Streamlit helpers shared by the pages: settings, post-action messages, Parlant errors."""

from __future__ import annotations

import logging
from typing import NoReturn

import httpx
import streamlit as st
from parlant.client.core.api_error import ApiError

from config import SettingsError
from dashboard.settings import DashboardSettings

FLASH_KEY = "dashboard_flash"
READ_ERRORS = (ApiError, httpx.HTTPError, OSError)


def settings() -> DashboardSettings:
    try:
        loaded = DashboardSettings.from_env()
    except SettingsError as error:
        st.error(f"Configuration error: {error}")
        st.stop()
    logging.getLogger("dashboard").setLevel(loaded.log_level.upper())
    return loaded


def configure_logging() -> None:
    # Streamlit configures only its own loggers; ours need a handler, once per process.
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")


def unreachable(settings: DashboardSettings, error: Exception) -> NoReturn:
    logging.getLogger(__name__).warning("parlant read failed: %s", type(error).__name__)
    st.error(
        f"Parlant at {settings.parlant_url} did not answer ({type(error).__name__}). "
        "Check that the agent is running."
    )
    st.stop()


def flash(message: str) -> None:
    """A success message shown after the rerun that follows an action."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message)
