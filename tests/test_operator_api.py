"""The contract of the agent's operator API (handoff/operator_api.py) against the real routes of
a real agent: every client method the bridge, the dashboard and the operator actions call is
answered by the agent as the client reads it, and the rules written once in the module (page
sizes, the long poll's bound, a reply body's rules) are the ones the routes apply.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from parlant.client.core.api_error import ApiError

from handoff import actions
from handoff import operator_api as api
from handoff.operator_api import AsyncOperatorClient, OperatorClient
from handoff.record import HANDOFF_LABEL, HandoffNotActive, read_record
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say
from tests.support.customers import OPERATOR_HEADERS, SIGNED_IN_ENV

DANA = actions.Operator(id="dashboard:dana", name="Dana", origin="dashboard")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home: Path = tmp_path_factory.mktemp("operator-api") / "parlant"
    process = AgentProcess(home=home, extra_env=SIGNED_IN_ENV).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(agent: AgentProcess) -> OperatorClient:
    return OperatorClient(
        base_url=agent.url, httpx_client=httpx.Client(headers=OPERATOR_HEADERS, timeout=60)
    )


def async_client(agent: AgentProcess) -> AsyncOperatorClient:
    return AsyncOperatorClient(
        base_url=agent.url, httpx_client=httpx.AsyncClient(headers=OPERATOR_HEADERS, timeout=60)
    )


def handed_off(client: OperatorClient) -> str:
    """A session the AI handed off for real (its handoff tool wrote the record)."""
    session = new_session(client)
    say(client, session, "Can I talk to a person?")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = read_record(client.sessions.retrieve(session).metadata)
        if record and record.get("status") == "waiting":
            return session
        time.sleep(0.3)
    raise AssertionError("the AI did not hand off")


def listed_ids(raw: bytes | None) -> set[str]:
    assert raw is not None
    return {item["id"] for item in json.loads(raw)["items"]}


def test_open_listing_feed_and_labels_answer_as_the_clients_read_them(
    agent: AgentProcess, client: OperatorClient
) -> None:
    session = handed_off(client)
    listing = client.operator.open_listing()
    assert session in listed_ids(listing.body)
    version = json.loads(listing.body or b"")["version"]
    assert listing.etag

    async def unchanged() -> tuple[api.ListingAnswer, api.ListingAnswer]:
        operator = async_client(agent).operator
        again = await operator.open_listing(etag=listing.etag)
        changes = await operator.open_listing(changed_after=version)
        return again, changes

    again, changes = asyncio.run(unchanged())
    # The client's 304 is "nothing new", unless the handoff turn wrote the session since.
    assert again.body is None or session in listed_ids(again.body)
    assert listed_ids(changes.body) <= {session}

    page = client.operator.feed(0, limit=api.MAX_PAGE)
    assert {e["session_id"] for e in page["events"]} >= {session}
    assert page["next"] >= max(e["position"] for e in page["events"])
    labelled = json.loads(client.operator.labelled_sessions(HANDOFF_LABEL))
    assert session in {s["id"] for s in labelled}


def test_the_feeds_bounds_are_the_routes_bounds(agent: AgentProcess) -> None:
    for params in (
        {"after": 0, "limit": 0},
        {"after": 0, "limit": api.MAX_PAGE + 1},
        {"after": 0, "wait_s": api.MAX_WAIT_S + 1},
    ):
        with pytest.raises(api.BadParameter):
            api.feed_call(**params)
        wire = api.Call("GET", api.FEED_PATH, {k: str(v) for k, v in params.items()})
        sent = {("wait_for_data" if k == "wait_s" else k): v for k, v in wire.params.items()}
        answer = httpx.get(
            f"{agent.url}{api.FEED_PATH}", params=sent, headers=OPERATOR_HEADERS, timeout=10
        )
        assert answer.status_code == 422, (params, answer.text)
    at_bounds = api.feed_call(0, api.MAX_PAGE, 0)
    answer = httpx.get(
        f"{agent.url}{at_bounds.path}", params=at_bounds.params, headers=OPERATOR_HEADERS
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"as": "robot", "message": "hi", "operator": DANA.as_metadata()},
        {"as": "human", "message": "  ", "operator": DANA.as_metadata()},
        {"as": "human", "message": "x" * (api.MESSAGE_LIMIT + 1), "operator": DANA.as_metadata()},
        {"as": "human", "message": "hi", "operator": {"id": "dana"}},
        {"as": "human", "message": "hi", "operator": DANA.as_metadata(), "metadata": []},
        {"as": "human", "message": "hi", "operator": DANA.as_metadata(), "override": "x"},
    ],
)
def test_a_reply_body_the_module_refuses_the_route_refuses_in_the_same_words(
    agent: AgentProcess, client: OperatorClient, body: Any
) -> None:
    problem = api.reply_body_problem(body)
    assert problem
    answer = httpx.post(
        f"{agent.url}{api.session_path(api.REPLIES_PATH, 'any-session')}",
        json=body,
        headers=OPERATOR_HEADERS,
        timeout=10,
    )
    assert (answer.status_code, answer.json()["detail"]) == (422, problem)
    if isinstance(body, dict):  # the client refuses it alike, without sending it

        async def send() -> None:
            await async_client(agent).operator.reply("any-session", body)

        with pytest.raises(ApiError) as refused:
            asyncio.run(send())
        assert refused.value.status_code == 422
        assert refused.value.body == {"detail": problem}


def test_replies_turns_drafts_and_history_through_the_clients(
    agent: AgentProcess, client: OperatorClient
) -> None:
    first, second = handed_off(client), handed_off(client)
    plain = new_session(client)

    async def act() -> None:
        operator = async_client(agent)
        body = api.reply_body("human", "Dana here.", DANA.as_metadata(), {"k": "v"})
        event = await operator.operator.reply(first, body)
        assert event.data == {"message": "Dana here.", "participant": event.data["participant"]}
        assert event.source == "human_agent"
        with pytest.raises(HandoffNotActive):
            await operator.operator.reply(plain, body)
        with pytest.raises(ApiError) as unknown:
            await operator.operator.reply("no-such-session", body)
        assert unknown.value.status_code == 404
        # Manual mode: the AI is silent, so no turn is started; no draft for a session that
        # is not with a person.
        with pytest.raises(ApiError) as manual:
            await operator.operator.start_turn(first)
        assert manual.value.status_code == 409
        assert await operator.operator.draft(plain, 30) is None
        for session in (first, second):
            await actions.resolve(operator, session, DANA)

    asyncio.run(act())
    page = client.operator.history(limit=1)
    assert len(page.items) == 1 and page.next is not None
    following = client.operator.history(limit=1, before=page.next)
    # Two pages of one, following the cursor: each closed session once (the record's closing
    # time is to the second, so two closed in one second come in id order).
    closed = [page.items[0]["id"], following.items[0]["id"]]
    assert sorted(closed) == sorted([first, second])


def test_backlog_reports_and_usage(agent: AgentProcess, client: OperatorClient) -> None:
    report = {
        "reporter": "bridge-a",
        "channels": {"C0123ABCD": {"waiting": 3, "oldest_wait_seconds": 99}},
    }

    async def send(body: dict[str, Any]) -> None:
        await async_client(agent).operator.report_backlog(body, 5)

    asyncio.run(send(report))
    assert client.operator.slack_backlog()["C0123ABCD"]["waiting"] == 3
    with pytest.raises(ApiError) as refused:
        asyncio.run(send({"reporter": "", "channels": {}}))
    assert refused.value.status_code == 422
    assert isinstance(client.operator.llm_usage("2026-01-01"), list)
    with pytest.raises(ApiError) as bad_date:
        client.operator.llm_usage("yesterday")
    assert bad_date.value.status_code == 422


def test_a_route_the_agent_lacks_is_route_missing(agent: AgentProcess) -> None:
    operator = api.OperatorApi(httpx.Client(headers=OPERATOR_HEADERS), agent.url + "/nowhere")
    with pytest.raises(api.RouteMissing):
        operator.open_listing()
