"""One stored event per operator reply, whichever agent replica a POST of it reaches.

A bridge posts a reply to `POST /escalations/{id}/replies` and may post it again when it
cannot tell whether the first landed; before sending again it looks for the stored event. A
bridge killed while its POST was still inside an agent lost its outbox hold with its database
connection; another bridge found no event yet, sent the reply again, and both POSTs stored it
(the chaos run's doubled operator replies). The reply's origin in Slack (channel, ts) is its
key: a POST holds the key's lock while it looks for an event with that origin and stores one,
so a second POST of the same reply waits for the first and then finds its event.

The lock is agent/key_locks.py's: across replicas on PostgreSQL, in the process on SQLite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def reply_origin(metadata: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Pure: the Slack message (channel, ts) a reply came from; None when it has none."""
    slack = (metadata or {}).get("slack")
    if not isinstance(slack, Mapping):
        return None
    channel, ts = slack.get("channel"), slack.get("ts")
    if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
        return None
    return channel, ts


def reply_key(metadata: Mapping[str, Any] | None) -> str | None:
    """Pure: the key of a reply from its origin metadata; None when it has no Slack origin."""
    origin = reply_origin(metadata)
    return None if origin is None else origin_key(*origin)


def origin_key(channel: str, ts: str) -> str:
    """Pure: the key of the reply from Slack message (`channel`, `ts`)."""
    return f"slack:{channel}:{ts}"


def same_origin(event_metadata: Mapping[str, Any] | None, key: str) -> bool:
    return reply_key(event_metadata) == key
