"""The dashboard's HTTP app: Streamlit's ASGI app (`st.App`) with `dashboard/gate.py` in front.

`python -m dashboard` runs `streamlit run` on this file; Streamlit serves `app.py` behind it.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.starlette import App

from dashboard.gate import app_options
from dashboard.settings import DashboardSettings

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"

# `streamlit run` finds the app by this assignment (it looks for an `App(...)` call by name).
app = App(str(APP_SCRIPT), **app_options(DashboardSettings.from_env()))
