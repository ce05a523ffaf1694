"""Formatting the dashboard's pages share: points in time and durations, Markdown escaping,
safe links, a person's name and a session's AI mode in words. Pure: no I/O, no Streamlit.

Anything that came from a customer, an operator or the AI is untrusted text: it is returned as
plain strings for `st.text`/`st.code`, or escaped with `escape_markdown` where it must sit inside
Markdown (captions, labels, the Markdown export).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from handoff.sla import format_minutes, parse_instant

UNKNOWN_STATUS = "unknown"


def parse_time(value: Any) -> datetime | None:
    """A datetime (Parlant's event times) or an ISO string (the handoff record's), in UTC if naive."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_instant(value)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&:$])")


def escape_markdown(text: str) -> str:
    """Text safe inside st.markdown/st.caption: no links, emphasis, HTML or LaTeX from the input."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def format_time(at: datetime | None) -> str:
    """The one way the dashboard writes a point in time: minutes, in UTC, said so."""
    if at is None:
        return "–"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# The queue's sortable time column, in the same shape (Streamlit's moment-style format).
TIME_COLUMN_FORMAT = "YYYY-MM-DD HH:mm [UTC]"


def format_age(seconds: float) -> str:
    # One way to write a duration, in the dashboard and on Slack's SLA line.
    return format_minutes(timedelta(seconds=max(0.0, seconds)))


def safe_url(value: Any) -> str | None:
    """The URL if it is http(s); a `javascript:` or other scheme must never become a link."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def person_name(person: Any) -> str:
    return str(person.get("name") or person.get("id") or "") if isinstance(person, Mapping) else ""


# Parlant's session modes in plain words: "manual" meant nothing to a supervisor.
AI_MODE_WORDS: Mapping[str, str] = {
    "auto": "the AI answers",
    "manual": "the AI is paused; a person answers",
}


def ai_mode_words(mode: str) -> str:
    return AI_MODE_WORDS.get(mode, f"AI mode {mode}")


def format_duration(seconds: float | None) -> str:
    return "–" if seconds is None else format_age(seconds)
