"""The escalation feed and the open-handoff index on a real agent (SQLite), through real HTTP.

The feed returns the events of sessions in an open handoff after a cursor, in the store's global
order, and a long poll on it wakes when one is written. A real handoff (the offline AI's handoff
tool) opens a session; resolving it through handoff/actions.py (what Slack and the dashboard
call) closes it, and its events leave the feed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from parlant.client import AsyncParlantClient, ParlantClient
from parlant.client.types import SessionMetadataUpdateParams

from handoff import actions
from handoff.operator_api import AsyncOperatorApi
from handoff.record import read_record
from slack_bridge.listing import OpenListing
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say
from tests.support.customers import (
    OPERATOR_HEADERS,
    OPERATOR_TOKEN,
    SIGNED_IN_ENV,
    customer_token,
    operator_client,
)
from tests.support.waits import eventually, stays

OPERATOR = actions.Operator(id="dashboard:dana", name="Dana", origin="dashboard")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("feed") / "parlant"
    process = AgentProcess(home=home, extra_env=SIGNED_IN_ENV).start()
    yield process
    process.stop()


def _get(agent: AgentProcess, path: str, timeout: float = 30, **params: Any) -> Any:
    answer = httpx.get(
        f"{agent.url}{path}", params=params, headers=OPERATOR_HEADERS, timeout=timeout
    )
    answer.raise_for_status()
    return answer.json()


# How long the listing must stay unchanged before a test takes its version as the start.
QUIET_S = 1.5


def _handed_off(agent: AgentProcess, client: ParlantClient) -> str:
    """A session the AI handed off for real: the handoff tool wrote the record, and the turn
    has ended (its reply written), so nothing of it is written after the test goes on: a late
    reply once woke another test's long poll, and moved the listing's version under another."""
    session = new_session(client)
    asked = say(client, session, "Can I talk to a person?")

    def turn_ended() -> bool:
        record = read_record(client.sessions.retrieve(session).metadata)
        statuses = client.sessions.list_events(
            session, min_offset=asked + 1, kinds="status", wait_for_data=0
        )
        return bool(record and record.get("status") == "waiting") and any(
            (e.data or {}).get("status") == "ready"
            and ((e.data or {}).get("data") or {}).get("stage") == "completed"
            for e in statuses
        )

    eventually(turn_ended, timeout=60, what="the AI's handoff, its turn ended")
    return session


def _open_ids(agent: AgentProcess, **params: Any) -> set[str]:
    return {s["id"] for s in _get(agent, "/escalations/open", **params)["items"]}


def test_only_operators_reach_the_escalation_routes(agent: AgentProcess) -> None:
    customer = {"Authorization": f"Bearer {customer_token('CUST-1001')}"}
    for path in ("/escalations/feed", "/escalations/open", "/escalations/history"):
        for headers in ({}, customer, {"Authorization": "Bearer wrong"}):
            answer = httpx.get(f"{agent.url}{path}", headers=headers, timeout=10)
            assert answer.status_code == 403, (path, headers, answer.text)
            assert "token" in answer.json()["detail"]
        assert httpx.get(f"{agent.url}{path}", headers=OPERATOR_HEADERS).status_code == 200
    # Through the customer gateway's own prefix too.
    token = customer_token("CUST-1001")
    answer = httpx.get(f"{agent.url}/customer/{token}/escalations/feed", timeout=10)
    assert answer.status_code in (403, 404), answer.text


def test_an_unchanged_open_listing_is_a_304_and_a_new_handoff_changes_its_etag(
    agent: AgentProcess,
) -> None:
    def listing(etag: str | None = None) -> httpx.Response:
        headers = {**OPERATOR_HEADERS, **({"If-None-Match": etag} if etag else {})}
        return httpx.get(f"{agent.url}/escalations/open", headers=headers, timeout=30)

    first = listing()
    etag = first.headers["etag"]
    again = listing(etag)
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert listing('"something else"').content == first.content

    _handed_off(agent, operator_client(agent.url))
    changed = listing(etag)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert len(changed.json()["items"]) == len(first.json()["items"]) + 1


def test_the_listing_after_its_version_has_only_the_sessions_written_since(
    agent: AgentProcess,
) -> None:
    def quiet_version() -> tuple[int] | None:
        """The listing's version once nothing changes after it for a while: an earlier test's
        session (this module shares the agent) may still be written after that test ends (its
        turn finishing), and a single look once caught the moment before such a write."""
        version = int(_get(agent, "/escalations/open")["version"])

        def nothing_since() -> None:
            since = _get(agent, "/escalations/open", changed_after=version)
            assert since == {"version": version, "items": []}

        try:
            stays(nothing_since, QUIET_S)
        except AssertionError:
            return None
        return (version,)  # 0 is a version

    (version,) = eventually(quiet_version, what="a listing nothing changes after")
    client = operator_client(agent.url)
    session = _handed_off(agent, client)
    handed_off = _get(agent, "/escalations/open", changed_after=version)
    assert [s["id"] for s in handed_off["items"]] == [session]
    assert handed_off["version"] > version

    async def claim() -> None:
        async with httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=30) as http:
            await actions.claim(
                AsyncParlantClient(base_url=agent.url, httpx_client=http), session, OPERATOR
            )

    asyncio.run(claim())
    claimed = _get(agent, "/escalations/open", changed_after=handed_off["version"])
    assert [read_record(s["metadata"])["status"] for s in claimed["items"]] == ["claimed"]
    for bad in ("-1", "x", str(2**63)):
        answer = httpx.get(
            f"{agent.url}/escalations/open",
            params={"changed_after": bad},
            headers=OPERATOR_HEADERS,
            timeout=10,
        )
        assert answer.status_code == 422 and "changed_after" in answer.json()["detail"], bad


def test_the_bridges_listing_reads_whole_once_then_only_changes(agent: AgentProcess) -> None:
    client = operator_client(agent.url)
    first = _handed_off(agent, client)

    async def follow() -> None:
        async with httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=30) as http:
            listing = OpenListing(AsyncOperatorApi(http, agent.url), full_every_s=3600)
            assert await listing.refresh() is True
            # The handoff turn may still write the session (its mode, the AI's state at the
            # end of the turn, the reply's usage) after the record says waiting: passes until
            # three in a row, over half a second, find nothing (one quiet pass was only a gap
            # between two late writes on a loaded machine).
            quiet = 0
            for _ in range(80):
                quiet = 0 if await listing.refresh() else quiet + 1
                if quiet == 3:
                    break
                await asyncio.sleep(0.25)
            held = {s.id: s for s in listing.sessions}
            assert first in held
            assert await listing.refresh() is False  # nothing written since
            second = await asyncio.to_thread(_handed_off, agent, client)
            await actions.claim(
                AsyncParlantClient(base_url=agent.url, httpx_client=http), first, OPERATOR
            )
            assert await listing.refresh() is True
            now = {s.id: s for s in listing.sessions}
            assert set(now) == set(held) | {second}
            assert read_record(now[first].metadata)["status"] == "claimed"
            # Sessions not written since are the very objects held before: nothing re-read.
            assert all(now[i] is held[i] for i in held if i != first)
            # A version the agent never gave out (another database behind the URL): the pass
            # changes nothing, and the next one reads the listing whole.
            listing._version = 10**12
            assert await listing.refresh() is False
            assert await listing.refresh() is True
            assert {s.id for s in listing.sessions} == set(now)

    asyncio.run(follow())


def test_the_reply_route_refuses_what_it_cannot_store_and_claims_once(
    agent: AgentProcess,
) -> None:
    client = operator_client(agent.url)
    session = _handed_off(agent, client)
    url = f"{agent.url}/escalations/{session}/replies"
    good = {"as": "human", "message": "Dana here.", "operator": OPERATOR.as_metadata()}
    for headers in ({}, {"Authorization": f"Bearer {customer_token('CUST-1001')}"}):
        assert httpx.post(url, json=good, headers=headers, timeout=10).status_code == 403
    for bad, word in (
        ([], "object"),
        ({**good, "as": "note"}, '"as"'),
        ({**good, "message": "  "}, '"message"'),
        ({**good, "operator": {"id": "x"}}, '"operator"'),
        ({**good, "metadata": []}, '"metadata"'),
    ):
        answer = httpx.post(url, json=bad, headers=OPERATOR_HEADERS, timeout=10)
        assert answer.status_code == 422 and word in answer.json()["detail"], bad
    unknown = f"{agent.url}/escalations/no-such-session/replies"
    assert httpx.post(unknown, json=good, headers=OPERATOR_HEADERS, timeout=10).status_code == 404

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=30) as http:
            lee = {
                **good,
                "message": "Lee here.",
                "operator": {"origin": "slack", "id": "slack:LEE", "name": "Lee"},
            }
            return list(await asyncio.gather(http.post(url, json=good), http.post(url, json=lee)))

    answers = asyncio.run(both())
    assert [a.status_code for a in answers] == [201, 201]
    record = read_record(client.sessions.retrieve(session).metadata)
    # Both stored; the record names one operator as the claimer and the first to reply.
    assert record["claimed_by"]["id"] in {"dashboard:dana", "slack:LEE"}
    assert record["first_human_reply_by"] == record["claimed_by"]
    stored = {
        e.id for e in client.sessions.list_events(session, source="human_agent", wait_for_data=0)
    }
    assert {a.json()["id"] for a in answers} <= stored


def test_the_feed_carries_open_handoffs_events_and_wakes_for_a_new_one(
    agent: AgentProcess,
) -> None:
    client = operator_client(agent.url)
    open_session = _handed_off(agent, client)
    ai_session = new_session(client)
    assert open_session in _open_ids(agent)
    assert ai_session not in _open_ids(agent)
    head = _get(agent, "/escalations/feed", after=0, limit=1000)["head"]

    answer: dict[str, Any] = {}

    def long_poll() -> None:
        answer.update(_get(agent, "/escalations/feed", after=head, wait_for_data=30, timeout=60))
        answer["at"] = time.monotonic()

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1.0)
    assert poller.is_alive(), "the long poll answered before anything was written"
    # A message in a session the AI still handles is not the feed's business: no wake-up answer.
    client.sessions.create_event(ai_session, kind="message", source="customer", message="hi AI")
    time.sleep(0.5)
    assert poller.is_alive()
    written = client.sessions.create_event(
        open_session, kind="message", source="customer", message="my car is still in the ditch"
    )
    written_at = time.monotonic()
    poller.join(timeout=30)
    assert not poller.is_alive()
    assert answer["at"] - written_at < 2.0, "woken by the write, not by a timeout"
    event = next(e for e in answer["events"] if e["id"] == written.id)
    assert event["session_id"] == open_session
    assert event["offset"] == written.offset
    assert (event["kind"], event["source"]) == ("message", "customer")
    assert event["data"]["message"] == "my car is still in the ditch"
    assert event["position"] > head
    assert all(e["session_id"] == open_session for e in answer["events"])
    assert answer["next"] >= event["position"]


def test_an_idle_long_poll_waits_its_time_and_keeps_the_cursor(agent: AgentProcess) -> None:
    head = _get(agent, "/escalations/feed", after=0, limit=1000)["head"]
    # Until the AI's last turn in an open handoff (the handoff's own reply) has ended.
    while events := _get(agent, "/escalations/feed", after=head, wait_for_data=1)["events"]:
        head = events[-1]["position"]
    head = _get(agent, "/escalations/feed", after=head)["next"]
    started = time.monotonic()
    answer = _get(agent, "/escalations/feed", after=head, wait_for_data=2)
    assert time.monotonic() - started >= 1.9
    assert answer["events"] == []
    assert answer["next"] == head


def test_a_resolved_session_leaves_the_index_and_the_feed(agent: AgentProcess) -> None:
    client = operator_client(agent.url)
    session = _handed_off(agent, client)
    before_resolve = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 5))

    async def resolve() -> None:
        async with httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=30) as http:
            await actions.resolve(
                AsyncParlantClient(base_url=agent.url, httpx_client=http), session, OPERATOR
            )

    asyncio.run(resolve())
    assert session not in _open_ids(agent)
    # Still listed for a reader that asks for what closed since it last looked ...
    assert session in _open_ids(agent, closed_since=before_resolve)
    # ... and in the history, most recently closed first.
    history = _get(agent, "/escalations/history", limit=5)["items"]
    assert history[0]["id"] == session
    head = _get(agent, "/escalations/feed", after=0, limit=1000)["head"]
    say(client, session, "one more thing")
    answer = _get(agent, "/escalations/feed", after=head, wait_for_data=1)
    assert [e for e in answer["events"] if e["session_id"] == session] == []
    assert answer["next"] > head  # walked past the resolved session's event
    everything = _get(agent, "/escalations/feed", after=0, limit=1000)
    assert session not in {e["session_id"] for e in everything["events"]}


def test_history_pages_closed_handoffs_without_repeats(agent: AgentProcess) -> None:
    client = operator_client(agent.url)
    sessions = [new_session(client) for _ in range(5)]
    for n, session in enumerate(sessions):
        record = {"status": "resolved", "resolved_at": f"2020-01-01T00:00:0{n}+00:00"}
        client.sessions.update(
            session, metadata=SessionMetadataUpdateParams(set_={"handoff": record})
        )
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = _get(agent, "/escalations/history", **params)
        seen += [s["id"] for s in page["items"]]
        if page["next"] is None:
            break
        params = {"limit": 2, **page["next"]}
    assert len(seen) == len(set(seen))
    ours = [s for s in seen if s in sessions]
    assert ours == list(reversed(sessions))


def test_the_feed_refuses_bad_parameters(agent: AgentProcess) -> None:
    for params in ({"after": "-1"}, {"limit": "0"}, {"limit": "5000"}, {"wait_for_data": "x"}):
        answer = httpx.get(
            f"{agent.url}/escalations/feed",
            params=params,
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        assert answer.status_code == 422, params
