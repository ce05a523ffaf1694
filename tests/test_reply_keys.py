"""The key an operator reply is stored once under: its origin in Slack (agent/reply_keys.py)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.reply_keys import reply_key, same_origin


def test_a_slack_reply_is_keyed_by_its_channel_and_ts() -> None:
    origin = {"slack": {"channel": "C1", "ts": "1700000000.000100", "user": "U1"}}
    assert reply_key(origin) == "slack:C1:1700000000.000100"
    assert same_origin(origin, "slack:C1:1700000000.000100")
    assert not same_origin(origin, "slack:C2:1700000000.000100")
    assert not same_origin(
        {"slack": {**origin["slack"], "ts": "1700000000.000101"}}, "slack:C1:1700000000.000100"
    )


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"slack": "C1"},
        {"slack": {"channel": "C1"}},
        {"slack": {"ts": "1.2"}},
        {"slack": {"channel": "", "ts": "1.2"}},
        {"slack": {"channel": "C1", "ts": 1.2}},
        {"dashboard": {"channel": "C1", "ts": "1.2"}},
    ],
)
def test_a_reply_without_a_whole_slack_origin_has_no_key(metadata: Any) -> None:
    # The dashboard's replies carry no Slack origin: each is its own, as before.
    assert reply_key(metadata) is None
