"""Discovery reads Parlant's session list as plain JSON (slack_bridge/listing.py)."""

from __future__ import annotations

from slack_bridge.listing import ListedSession, listed_sessions

SESSION = {
    "id": "s1",
    "agent_id": "a",
    "customer_id": "guest",
    "labels": ["handoff", "vip"],
    "metadata": {"handoff": {"status": "waiting"}},
    "mode": "manual",
}


def test_both_shapes_of_parlants_list_are_read() -> None:
    expected = [
        ListedSession("s1", "guest", {"handoff": {"status": "waiting"}}, ("handoff", "vip"))
    ]
    assert listed_sessions([SESSION]) == expected
    assert listed_sessions({"items": [SESSION], "next_cursor": None}) == expected


def test_missing_fields_default_and_entries_without_an_id_are_skipped() -> None:
    assert listed_sessions([{"id": "s2"}, {"customer_id": "x"}, "junk", None]) == [
        ListedSession("s2", "")
    ]
    assert listed_sessions({"items": None}) == []
    assert listed_sessions(None) == []
