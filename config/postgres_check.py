"""Whether the PostgreSQL a setting names answers, checked once before start (the agent's
PARLANT_SESSION_STORE, the bridge's BRIDGE_STATE_URL).

Without it, an unreachable database shows as a pool timeout deep inside start-up, after half a
minute. The line it returns names the target (host, port, database, user), never the password.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

CONNECT_TIMEOUT_S = 10


def describe_target(url: str) -> str:
    """host:port/database as user, from the URL, without its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable URL"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = parts.get("user") or "(default user)"
    return f"{host}:{port}/{parts.get('dbname') or '(default database)'} as {user}"


def postgres_problem(url: str, setting: str) -> str | None:
    """None when a connection opens and answers; else one line saying what to fix."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        lines = str(error).strip().splitlines()
        reason = lines[0].strip() if lines else type(error).__name__
        return (
            f"{setting}: cannot use PostgreSQL at {describe_target(url)}: {reason}; "
            "check that the server runs and the URL's host, port, database, user and password"
        )
    return None
