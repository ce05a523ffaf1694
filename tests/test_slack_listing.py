"""Discovery reads Parlant's session list as plain JSON (slack_bridge/listing.py)."""

from __future__ import annotations

import json

import pytest

from slack_bridge.listing import (
    PARSE_BATCH,
    ListedSession,
    ListingUnreadable,
    ParsedListing,
    listed_sessions,
    parse_listing,
)

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


@pytest.mark.parametrize("count", [0, 1, PARSE_BATCH, 2 * PARSE_BATCH + 7])
@pytest.mark.parametrize("separator", [",", ", ", ",\n  "])
async def test_the_agents_listing_is_read_in_batches_as_one_json_loads_would(
    count: int, separator: str
) -> None:
    items = [{**SESSION, "id": f"s{n}", "metadata": {"handoff": {"n": n}}} for n in range(count)]
    raw = ('{"version":42,"items":[' + separator.join(json.dumps(i) for i in items) + "]}").encode()
    parsed = await parse_listing(raw)
    assert parsed == ParsedListing(listed_sessions(json.loads(raw)), 42)
    assert len(parsed.sessions) == count


async def test_parlants_own_list_is_read_whole_and_a_cut_listing_is_refused() -> None:
    assert await parse_listing(json.dumps([SESSION]).encode()) == ParsedListing(
        listed_sessions([SESSION]), None
    )
    with pytest.raises(ListingUnreadable):
        await parse_listing(('{"version":1,"items":[' + json.dumps(SESSION) + "]").encode())
    with pytest.raises(ListingUnreadable):
        await parse_listing(('{"version":1,"items":[' + json.dumps(SESSION)).encode())
