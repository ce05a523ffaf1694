"""The bridge's flows in-process, as slack-bolt's own scenario tests run an app.

The Bolt app and the bridge (discovery, mirrors, outbox, operator actions, root messages, the
SQLite store) are built in the test's event loop against the fake Slack, also served from this
loop, and a real agent process on the offline NLP. Slack's requests are signed and dispatched
with `AsyncApp.async_dispatch`, exactly as the HTTP adapter would hand them over. The process
boundaries (kills, restarts, Socket Mode) are covered by the subprocess tests
(test_slack_bridge_e2e.py, test_slack_bridge_faults.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, cast

import httpx
import pytest
from parlant.client.types import SessionMetadataUpdateParams

from handoff import actions
from handoff import record as records
from handoff.actions import Operator
from handoff.record import HANDOFF_LABEL
from slack_bridge.feedback import DELIVERED, FAILED
from slack_bridge.handback_form import VIEW_HANDBACK
from slack_bridge.resolve_form import (
    ANSWER_BLOCK,
    ANSWER_INPUT,
    VIEW_RESOLVE,
    WHY_BLOCK,
    WHY_INPUT,
)
from slack_bridge.root_sync import UPDATES_PER_MINUTE_SHARED
from slack_kit import metadata
from slack_kit.masking import Masker
from slack_kit.root_message import (
    ACTION_CLAIM,
    ACTION_RESOLVE,
    ACTION_RETURN,
    escalation_view,
    root_message_post,
)
from tests.fakes import Message, event_callback
from tests.support.bridge_world import (
    OPERATOR_TOKEN,
    World,
    eventually,
    running_world,
    shown_in_thread,
)
from tests.support.chat import AGENT_ID
from tests.support.slack_world import DISCOVERY_INTERVAL_S, QUIET_S
from tests.support.waits import stays_async

NOW = "2026-12-07T09:00:00+00:00"
DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory.mktemp("in-process")) as built:
        yield built


async def test_customer_messages_are_mirrored_into_the_thread_once(world: World) -> None:
    session, root = await world.escalate()
    # Written as soon as the root message is up: the handoff turn may still be running (its
    # tool event and the AI's reply not yet stored), so this message came after what it saw.
    written = await world.parlant.sessions.create_event(
        session, kind="message", source="customer", message="My card was charged twice"
    )

    async def mirrored() -> list[Message]:
        return [m for m in world.thread(root.ts) if "charged twice" in m.text]

    [post] = await eventually(mirrored, "the customer's message in the thread")
    # Alone, or coalesced with the AI's handoff reply when both waited for the same turn.
    assert any(
        block["text"]["text"].startswith("*Customer") and "charged twice" in block["text"]["text"]
        for block in post.blocks or []
    )
    assert (post.metadata or {})["event_type"] == metadata.MIRRORED_EVENT
    event_id = written.id
    assert (event_id, 0) in metadata.mirrored_parts({"metadata": post.metadata})
    # The store remembers the post, so a restarted mirror would not post it again. Recorded
    # just after Slack answers (the mirror.after_post crash point lies between), so the test
    # may see the post a moment before the record.

    async def recorded() -> bool:
        return await world.store.mirror_status(session, event_id, 0) == post.ts

    await eventually(recorded, "the post's ts in the bridge's store")

    async def one_post() -> None:
        assert len(await mirrored()) == 1

    # More discovery passes and long polls: still one post.
    await stays_async(one_post, QUIET_S)


async def burst(world: World, session: str, texts: list[str]) -> list[str]:
    """The customer writes `texts` one right after another; their event ids."""
    ids = []
    for text in texts:
        event = await world.parlant.sessions.create_event(
            session, kind="message", source="customer", message=text
        )
        ids.append(event.id)
    return ids


async def test_what_the_customer_writes_while_the_handoff_runs_is_in_the_thread_and_the_ai_is_silent(
    world: World,
) -> None:
    """A customer who writes again while the handoff tool runs makes Parlant cancel the handoff
    turn: the tool finishes (record, root message) but its turn never stores the tool event nor
    applies the tool's switch to manual mode. The message the turn never read was in neither the
    root nor the thread, and the AI went on answering an open escalation."""
    # The agent's root post takes a while, so the customer writes while the tool is running.
    world.fake.slow_response("chat.postMessage", 3.0, text="Escalation")
    session = (await world.parlant.sessions.create(agent_id=AGENT_ID, customer_id="guest")).id
    await world.parlant.sessions.create_event(
        session, kind="message", source="customer", message="I want to talk to a human"
    )

    async def handing_off() -> bool:
        return HANDOFF_LABEL in ((await world.parlant.sessions.retrieve(session)).labels or [])

    await eventually(handing_off, "the handoff tool running")
    await world.parlant.sessions.create_event(
        session, kind="message", source="customer", message="hello? still there?"
    )

    posted_root = await world.posted_root(session)

    async def in_thread() -> bool:
        return any("still there" in text for _, text in shown_in_thread(world, posted_root.ts))

    await eventually(in_thread, "the message the handoff turn never read, in the thread")
    assert (await world.parlant.sessions.retrieve(session)).mode == "manual"
    later = await world.parlant.sessions.create_event(
        session, kind="message", source="customer", message="anyone?"
    )

    async def both_shown() -> bool:
        return any("anyone?" in text for _, text in shown_in_thread(world, posted_root.ts))

    await eventually(both_shown, "the next message in the thread")

    async def ai_silent() -> None:
        events = await world.parlant.sessions.list_events(
            session, kinds="message", source="ai_agent", min_offset=later.offset, wait_for_data=0
        )
        assert [e.data.get("message") for e in events] == []
        # Shown once: in the thread, not also among the root's messages before the handoff.
        assert "still there" not in json.dumps(world.root(posted_root.ts).blocks)

    await stays_async(ai_silent, QUIET_S)


async def test_a_root_the_handoff_tool_posted_shows_the_sla_line_and_is_not_drawn_again(
    world: World,
) -> None:
    """chat.update is Tier 3 (about 50 a minute per workspace): a bridge that drew every root
    the handoff tool had posted a second time, to add its SLA line, spent a minute of that
    allowance per 45 new escalations, and 3.7 hours of it on a start with 10,000 open."""
    session, root = await world.escalate()
    assert ":stopwatch: Handed off" in json.dumps(root.blocks)
    await world.parlant.sessions.create_event(
        session, kind="message", source="customer", message="is anyone there"
    )

    async def mirrored() -> bool:
        return any("anyone there" in text for _, text in shown_in_thread(world, root.ts))

    # Mirrored: the bridge has linked the thread and looked at what its root shows.
    await eventually(mirrored, "the customer's message in the thread")

    async def not_redrawn() -> None:
        assert [c for c in world.fake.calls("chat.update") if c.params.get("ts") == root.ts] == []

    await stays_async(not_redrawn, QUIET_S)
    # It is redrawn once it shows less than the record: a claim.
    await world.click(root.ts, ACTION_CLAIM, world.dana)

    async def claimed() -> bool:
        return "Claimed by" in json.dumps(world.root(root.ts).blocks)

    await eventually(claimed, "the claim in the root message")


async def test_the_chat_pages_opening_is_not_shown_as_an_operators_in_the_root(
    world: World,
) -> None:
    # The widget's agentOpeningMessage, posted by a guest's browser in the agent's voice, is
    # among the messages the root shows: as the page's opening, not "An operator as the AI".
    async with httpx.AsyncClient(base_url=world.agent.url, timeout=30) as http:
        token = (await http.post("/customer/guest-token")).json()["token"]
        guest = {"Authorization": f"Bearer {token}"}
        created = await http.post("/sessions", json={"agent_id": AGENT_ID}, headers=guest)
        session = created.json()["id"]
        for source, text in (
            ("human_agent_on_behalf_of_ai_agent", "Hello from Acme! How can I help?"),
            ("customer", "I want to talk to a human"),
        ):
            posted = await http.post(
                f"/sessions/{session}/events",
                json={"kind": "message", "source": source, "message": text},
                headers=guest,
            )
            assert posted.status_code == 201, posted.text

    posted_root = await world.posted_root(session)
    shown = json.dumps(posted_root.blocks)
    assert "AI agent (the chat page's opening)" in shown, shown
    assert "An operator as the AI" not in shown, shown

    # The bridge draws the root again on each change, from the session's events.
    await world.click(posted_root.ts, ACTION_CLAIM, world.dana)

    async def claimed() -> Message | None:
        current = world.root(posted_root.ts)
        return current if "Claimed by Dana" in json.dumps(current.blocks) else None

    redrawn = json.dumps((await eventually(claimed, "the claimed root")).blocks)
    assert "AI agent (the chat page's opening)" in redrawn, redrawn


async def test_a_burst_is_coalesced_into_fewer_posts_each_message_once_in_order(
    world: World,
) -> None:
    """At Slack's pace (one post a second per channel), what a thread receives while it waits
    for its turn goes out as one post: every message once, in order, under its speaker."""
    session, root = await world.escalate()
    texts = [f"burst message {n}" for n in range(8)]
    ids = await burst(world, session, texts)

    async def all_shown() -> list[tuple[str, str]]:
        shown = [s for s in shown_in_thread(world, root.ts) if "burst message" in s[1]]
        return shown if len(shown) >= len(texts) else []

    shown = await eventually(all_shown, "every message of the burst in the thread")
    assert [text.split(":* ", 1)[1] for _, text in shown] == texts
    assert all(text.startswith("*Customer") for _, text in shown)
    posts = {ts for ts, _ in shown}
    assert len(posts) < len(texts)  # coalesced
    carried = [
        event_id
        for post in world.thread(root.ts)
        for event_id, _ in metadata.mirrored_parts({"metadata": post.metadata})
        if event_id in ids
    ]
    assert sorted(carried) == sorted(ids)  # each in exactly one post's metadata

    # The store records a post just after Slack answers it (the mirror.after_post crash point
    # lies between), so a post can be in the thread a moment before the store has its ts.
    async def recorded() -> bool:
        return all([await world.store.mirror_status(session, e, 0) in posts for e in ids])

    await eventually(recorded, "each message's post recorded in the bridge's store")

    async def unchanged() -> None:
        assert len([s for s in shown_in_thread(world, root.ts) if "burst message" in s[1]]) == 8

    await stays_async(unchanged, QUIET_S)


async def test_what_the_customer_writes_while_a_new_thread_waits_goes_in_its_first_post(
    world: World,
) -> None:
    """A new thread's first post (the agent's handoff message, posted by the mirror's catch-up)
    waits for a busy channel like any other; the customer's message written meanwhile goes
    with it. Posted on a turn of its own, it waited a second round of the channel's threads
    (about 100 s instead of 60 at the busy hour, bench/bench_busy_hour.py)."""
    # Other posts queued in the bridge's pacer ahead of the catch-up, as on a busy channel:
    # roots (priority FIRST) still go before them; the catch-up waits behind them until they
    # are withdrawn.
    queued = [asyncio.create_task(world.caller.turn(world.channel)) for _ in range(60)]
    try:
        session, root = await world.escalate()
        await eventually(
            lambda: asyncio.sleep(0, result=world.bridge.mirrors.following(session)), "the mirror"
        )
        # The handoff turn has ended (its reply stored: written earlier, the customer's message
        # would cancel the turn before it answered), and the catch-up waits its turn.
        await eventually(partial(world.messages, session, "ai_agent"), "the AI's handoff message")
        assert world.thread(root.ts) == []
        [written] = await burst(world, session, ["written while the thread waited"])
    finally:
        for waiting in queued:
            waiting.cancel()
        await asyncio.gather(*queued, return_exceptions=True)

    async def posted() -> list[tuple[str, str]]:
        shown = shown_in_thread(world, root.ts)
        return shown if any("written while" in text for _, text in shown) else []

    shown = await eventually(posted, "the customer's message in the thread")
    assert len(world.thread(root.ts)) == 1, shown  # the handoff message and it, one post
    assert len(shown) == 2 and "written while" in shown[1][1]
    post_ts = world.thread(root.ts)[0].ts

    async def recorded() -> bool:  # just after Slack answered (see the burst test)
        return await world.store.mirror_status(session, written, 0) == post_ts

    await eventually(recorded, "the post recorded in the bridge's store")


async def test_a_coalesced_post_whose_answer_is_lost_is_not_posted_again(world: World) -> None:
    session, root = await world.escalate()
    await eventually(lambda: asyncio.sleep(0, result=len(world.thread(root.ts)) > 0), "AI reply")
    world.fake.drop_response("chat.postMessage", text="lost burst")
    texts = [f"lost burst {n}" for n in range(5)]
    await burst(world, session, texts)

    async def shown() -> list[str]:
        found = [t for _, t in shown_in_thread(world, root.ts) if "lost burst" in t]
        return found if len(found) >= len(texts) else []

    await eventually(shown, "the burst in the thread")
    lost = [c for c in world.fake.calls("chat.postMessage") if c.response is None]
    assert any("lost burst" in str(c.params.get("text")) for c in lost)

    async def once_each() -> None:
        found = [t for _, t in shown_in_thread(world, root.ts) if "lost burst" in t]
        assert sorted(t.split(":* ", 1)[1] for t in found) == texts

    await stays_async(once_each, QUIET_S)


async def test_an_operator_reply_reaches_the_customer_once_through_the_outbox(
    world: World,
) -> None:
    session, root = await world.escalate()
    event, event_id = await world.reply(world.dana, "Hi, Dana here & I'll help", root.ts)

    async def delivered() -> list[str]:
        return await world.messages(session, "human_agent")

    assert await eventually(delivered, "the reply in Parlant") == ["Hi, Dana here & I'll help"]

    async def reacted() -> bool:
        return DELIVERED in world.root(root.ts).reactions or any(
            DELIVERED in m.reactions for m in world.thread(root.ts) if m.ts == event["ts"]
        )

    await eventually(reacted, "the delivered reaction")

    # ✅ goes up before the outbox row says delivered (a crash in between re-checks Parlant
    # rather than losing the mark), so the row follows the reaction a moment later.
    async def outbox_empty() -> bool:
        return await world.store.pending_replies(session) == []

    await eventually(outbox_empty, "the outbox row marked delivered")
    # Slack redelivers the same event: the store's dedupe keeps it to one message.
    await world.event(event, event_id)

    async def delivered_once() -> None:
        assert await world.messages(session, "human_agent") == ["Hi, Dana here & I'll help"]

    await stays_async(delivered_once, QUIET_S)
    # The first reply by a person claimed the handoff, and the root message says so.
    assert await world.status_is(session, "claimed")

    async def root_says_claimed() -> bool:
        return "Claimed by Dana" in json.dumps(world.root(root.ts).blocks)

    await eventually(root_says_claimed, "the root message rewritten")


async def test_a_reply_still_being_taken_in_goes_before_a_later_one_however_long_it_takes(
    world: World,
) -> None:
    """Two replies in one thread reach this bridge in Slack's order, but the first is taken
    in slowly (its writer's name looked up in Slack, answered 2 s late): the second, stored
    first and settled, waits for it rather than reaching the customer first. Ordered by the
    settling window alone, it went first whenever the lookup outlasted the window (a chaos
    seed, 0.3 s apart in Slack)."""
    session, root = await world.escalate()
    world.bridge.inbound._names._cache.pop(world.dana, None)  # the first reply looks it up
    world.fake.slow_response("users.info", 2.0)
    first = world.fake.add_user_message(
        world.channel, world.dana, "first, slowly", thread_ts=root.ts
    )
    taking_in = asyncio.create_task(world.event(first, f"Ev{time.time_ns()}"))
    await asyncio.sleep(0.2)
    second = world.fake.add_user_message(world.channel, world.dana, "second", thread_ts=root.ts)
    await world.event(second, f"Ev{time.time_ns()}")
    await taking_in

    async def both() -> list[str]:
        texts = await world.messages(session, "human_agent")
        return texts if len(texts) >= 2 else []

    assert await eventually(both, "both replies in Parlant") == ["first, slowly", "second"]
    assert not any("out of order" in text for _, text in shown_in_thread(world, root.ts))


async def test_a_reply_from_someone_not_on_the_operator_list_is_refused_privately(
    world: World,
) -> None:
    session, root = await world.escalate()
    event, _ = await world.reply(world.mallory, "let me in", root.ts)

    async def told() -> list[Any]:
        return [m for m in world.fake.ephemeral_messages(world.channel) if m.user == world.mallory]

    [note] = await eventually(told, "the private refusal")
    assert "not on the list of operators" in note.text
    # Told through the bridge's SlackCaller, the same path every Web API call takes.
    assert world.fake.calls("chat.postEphemeral")

    async def marked() -> bool:
        return any(FAILED in m.reactions for m in world.thread(root.ts) if m.ts == event["ts"])

    await eventually(marked, "the failed reaction")
    assert await world.messages(session, "human_agent") == []


async def test_without_an_operator_list_slack_guests_may_not_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SLACK_OPERATOR_IDS unset: every full member may answer, a guest (single- or
    multi-channel, as users.info reports) is refused privately and reaches nobody."""
    unset = {"SLACK_OPERATOR_IDS": ""}
    async with running_world(tmp_path_factory.mktemp("guests"), env_overrides=unset) as world:
        single = world.fake.add_user("gus", display_name="Gus", guest="single")
        multi = world.fake.add_user("mia", display_name="Mia", guest="multi")
        for guest in (single, multi):
            world.fake.join(world.channel, guest)
        session, root = await world.escalate()
        for guest in (single, multi):
            await world.reply(guest, f"hello from {guest}", root.ts)

            async def told(guest: str = guest) -> list[Any]:
                return [m for m in world.fake.ephemeral_messages(world.channel) if m.user == guest]

            [note] = await eventually(told, "the private refusal")
            assert "NOT sent" in note.text
        # Mallory is a full member and not on any list: with the list unset she may answer.
        await world.reply(world.mallory, "Happy to help", root.ts)

        async def delivered() -> list[str]:
            return await world.messages(session, "human_agent")

        assert await eventually(delivered, "the member's reply") == ["Happy to help"]


async def root_before_its_record(world: World) -> tuple[str, records.HandoffRecord, str]:
    """A session's root message in the channel, its record not yet written into the session:
    as the handoff tool leaves them for a moment (it posts first, then writes the record with
    the root's link, agent/tools.py). (session, the record to write, root ts)"""
    session = await world.parlant.sessions.create(agent_id=AGENT_ID, customer_id="guest")
    record = records.request_handoff(None, "asked for a person", NOW, "disabled")
    view = escalation_view(
        session.id, "Guest", record, [], "http://dashboard.test", masker=Masker.of([])
    )
    posted = await world.caller.call(
        "chat.postMessage", channel=world.channel, **root_message_post(view)
    )
    ts = str(posted["ts"])
    link = records.SlackLink(state="posted", channel=world.channel, ts=ts, permalink="")
    return session.id, records.with_slack_link(record, link), ts


async def write_record(world: World, session: str, record: records.HandoffRecord) -> None:
    await world.parlant.sessions.update(
        session, metadata=SessionMetadataUpdateParams(set_={records.METADATA_KEY: dict(record)})
    )


def told_not_handed_off(world: World) -> list[Any]:
    return [m for m in world.fake.ephemeral_messages(world.channel) if "not handed off" in m.text]


async def test_a_claim_clicked_before_the_handoff_record_is_written_waits_for_it(
    world: World,
) -> None:
    """The handoff tool posts the root message, then writes the record into the session: a
    click in between found no record and told the operator the session was not handed off."""
    session, record, root_ts = await root_before_its_record(world)
    await world.click(root_ts, ACTION_CLAIM, world.dana)
    await asyncio.sleep(1)
    assert not await world.status_is(session, "claimed")

    await write_record(world, session, record)
    await eventually(lambda: world.status_is(session, "claimed"), "the claim")
    assert not told_not_handed_off(world)


async def test_return_to_ai_clicked_before_the_handoff_record_is_written_opens_its_form(
    world: World,
) -> None:
    """The same moment for Return to AI, whose form must open within the click's 3 s."""
    session, record, root_ts = await root_before_its_record(world)
    await world.click(root_ts, ACTION_RETURN, world.dana)
    await asyncio.sleep(0.5)
    await write_record(world, session, record)

    async def form_opened() -> bool:
        return any(
            v.get("callback_id") == VIEW_HANDBACK
            and json.loads(v["private_metadata"])["session_id"] == session
            for v in world.fake.views()
        )

    await eventually(form_opened, "the handback form")
    assert not told_not_handed_off(world)


async def test_a_claim_made_while_the_bridge_links_the_root_it_posted_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge posts the root the handoff tool could not, then writes the root's link into
    the session. That write re-read the record and wrote it whole, so a claim made between the
    two was overwritten: the operator's claim lost, the record still waiting."""
    session = await world.parlant.sessions.create(agent_id=AGENT_ID, customer_id="guest")
    links = world.bridge.roots._parlant.sessions
    link_write = links.update
    claimed: list[str] = []

    async def claim_first(session_id: str, **changes: Any) -> Any:
        written = getattr(changes.get("metadata"), "set_", None) or {}
        linking = records.SLACK_LINK_KEY in written or (
            (written.get(records.METADATA_KEY) or {}).get("slack", {}).get("state") == "posted"
        )
        if session_id == session.id and linking and not claimed:
            claimed.append(session_id)
            await actions.claim(world.parlant, session_id, DANA)
        return await link_write(session_id, **changes)

    monkeypatch.setattr(links, "update", claim_first)
    # As the handoff tool leaves it when its own post failed.
    await write_record(
        world, session.id, records.request_handoff(None, "asked for a person", NOW, "pending")
    )
    await world.posted_root(session.id)

    async def linked() -> bool:
        return bool((await world.record(session.id)).get("slack", {}).get("state") == "posted")

    await eventually(linked, "the root's link in the record")
    assert claimed == [session.id]
    record = await world.record(session.id)
    assert (record["status"], record["claimed_by"]["name"]) == ("claimed", "Dana")


async def test_buttons_claim_return_to_ai_with_a_note_and_resolve(world: World) -> None:
    session, root = await world.escalate()

    await world.click(root.ts, ACTION_CLAIM, world.dana)
    await eventually(lambda: world.status_is(session, "claimed"), "the claim")
    assert (await world.record(session))["claimed_by"]["name"] == "Dana"

    # Someone not on the operator list clicking is refused, privately, and nothing changes.
    await world.click(root.ts, ACTION_RESOLVE, world.mallory)

    async def refused() -> bool:
        return any(
            "list of support operators" in m.text and m.user == world.mallory
            for m in world.fake.ephemeral_messages(world.channel)
        )

    await eventually(refused, "the refusal of the click")
    assert await world.status_is(session, "claimed")

    await world.click(root.ts, ACTION_RETURN, world.dana)

    async def form() -> dict[str, Any] | None:
        forms = [
            v
            for v in world.fake.views()
            if json.loads(v["private_metadata"])["session_id"] == session
        ]
        return forms[-1] if forms else None

    opened = await eventually(form, "the handback form")
    # Nor may she open the form, or submit the one Dana opened: the operator gate in front of
    # both listeners turns each away privately, and no form opens, nothing changes.
    views_before = len(world.fake.views())
    await world.click(root.ts, ACTION_RETURN, world.mallory)
    await world.interactive(
        world.fake.view_submission(
            opened["id"], user=world.mallory, values={"handback_note": {"note": "Let me in"}}
        )
    )

    async def three_refusals() -> bool:
        refusals = [
            m
            for m in world.fake.ephemeral_messages(world.channel)
            if m.user == world.mallory and "list of support operators" in m.text
        ]
        return len(refusals) == 3

    await eventually(three_refusals, "the refusals of the form and its submission")
    assert len(world.fake.views()) == views_before
    assert await world.status_is(session, "claimed")
    await world.interactive(
        world.fake.view_submission(
            opened["id"],
            user=world.dana,
            values={"handback_note": {"note": "Refund approved; it arrives in 3 days"}},
        )
    )
    await eventually(lambda: world.status_is(session, "returned"), "the handback")

    async def handback_line() -> bool:
        return any("Handed back to the AI by Dana" in m.text for m in world.thread(root.ts))

    await eventually(handback_line, "the handback line in the thread")
    assert (await world.parlant.sessions.retrieve(session)).mode == "auto"

    # Back with the AI the root offers Take over and Resolve; resolving ends the handoff, with
    # the operator's word on why the AI could not finish (handoff/learning.py).
    await world.click(root.ts, ACTION_RESOLVE, world.dana)

    async def resolve_form() -> dict[str, Any] | None:
        forms = [v for v in world.fake.views() if v.get("callback_id") == VIEW_RESOLVE]
        return forms[-1] if forms else None

    opened = await eventually(resolve_form, "the resolve form")
    assert await world.status_is(session, "returned")  # the form alone changes nothing
    # Mallory submitting the form Dana opened is turned away by the gate too.
    await world.interactive(
        world.fake.view_submission(
            opened["id"],
            user=world.mallory,
            values={WHY_BLOCK: {WHY_INPUT: "needs_authority"}, ANSWER_BLOCK: {ANSWER_INPUT: "No"}},
        )
    )

    async def four_refusals() -> bool:
        return (
            len(
                [
                    m
                    for m in world.fake.ephemeral_messages(world.channel)
                    if m.user == world.mallory and "list of support operators" in m.text
                ]
            )
            == 4
        )

    await eventually(four_refusals, "the refusal of the resolve form's submission")
    assert await world.status_is(session, "returned")
    await world.interactive(
        world.fake.view_submission(
            opened["id"],
            user=world.dana,
            values={
                WHY_BLOCK: {WHY_INPUT: "needs_authority"},
                ANSWER_BLOCK: {ANSWER_INPUT: "Refunds over $500 need a person's approval."},
            },
        )
    )
    await eventually(lambda: world.status_is(session, "resolved"), "the resolve")
    learning = (await world.record(session))["learning"]
    assert (learning["why"], learning["answer"]) == (
        "needs_authority",
        "Refunds over $500 need a person's approval.",
    )
    assert learning["by"]["name"] == "Dana"

    async def root_says_resolved() -> bool:
        shown = json.dumps(world.root(root.ts).blocks)
        return (
            "Resolved by Dana" in shown
            and "Why the AI could not finish: Needs a person's authority" in shown
        )

    await eventually(root_says_resolved, "the resolved root message")


async def test_sessions_are_mirrored_through_one_feed_long_poll_and_its_cursor_is_stored(
    world: World,
) -> None:
    escalated = [await world.escalate() for _ in range(3)]
    said = {}
    for i, (session, _root) in enumerate(escalated):
        event = await world.parlant.sessions.create_event(
            session, kind="message", source="customer", message=f"feed check {i}"
        )
        said[event.id] = session
    for i, (_session, root) in enumerate(escalated):

        async def mirrored(i: int = i, root_ts: str = root.ts) -> list[Message]:
            return [m for m in world.thread(root_ts) if f"feed check {i}" in m.text]

        [_post] = await eventually(mirrored, f"message {i} in its thread")

    # The agent holds one long poll for the bridge, not one per mirrored session.
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=10
    ) as http:

        async def long_polls_open() -> float:
            text = (await http.get(f"{world.agent.url}/metrics")).text
            line = next(x for x in text.splitlines() if x.startswith("parlant_long_polls_open "))
            return float(line.split()[1])

        samples = []
        for _ in range(10):
            samples.append(await long_polls_open())
            await asyncio.sleep(0.2)
        assert max(samples) == 1
        # The stored feed cursor moves past the mirrored events' positions.
        feed = (await http.get(f"{world.agent.url}/escalations/feed?after=0&limit=1000")).json()
        positions = [e["position"] for e in feed["events"] if e["id"] in said]
        assert len(positions) == len(said)

    async def stored_past() -> bool:
        stored = await world.store.feed_cursor(world.bridge.leases.owner)
        return stored is not None and stored >= max(positions)

    await eventually(stored_past, "the feed cursor stored past the mirrored events")


# Storing a reply in the outbox made slow: the window in which a bridge that had already
# acknowledged the event could die and lose the reply.
SLOW_STORE_S = 0.5


@asynccontextmanager
async def slow_outbox(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    enqueue = world.store.enqueue_reply

    async def slowly(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(SLOW_STORE_S)
        return await enqueue(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(world.store, "enqueue_reply", slowly)
        yield


async def queued(world: World, session: str, ts: str) -> bool:
    return any(r.ts == ts for r in await world.store.pending_replies(session))


async def test_an_operator_reply_is_in_the_outbox_before_its_request_is_answered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP mode: Slack's request is answered (acknowledged) only once the reply is stored, so
    a bridge that dies right after answering has the reply in its outbox; one that dies before
    is sent the event again by Slack."""
    session, root = await world.escalate()
    event = world.fake.add_user_message(
        world.channel, world.dana, "stored first", thread_ts=root.ts
    )
    raw = json.dumps(event_callback(event, event_id=f"Ev{time.time_ns()}")).encode()
    async with slow_outbox(world, monkeypatch):
        assert await world.dispatch(raw) == 200
        assert await queued(world, session, event["ts"]), "acknowledged before it was stored"

    async def delivered() -> list[str]:
        return await world.messages(session, "human_agent")

    assert await eventually(delivered, "the reply in Parlant") == ["stored first"]


async def test_a_socket_mode_envelope_is_acknowledged_once_its_reply_is_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Socket Mode: the envelope's ack goes back to Slack only once the reply is in the outbox
    (Bolt answered events before running the listener)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    session, root = await world.escalate()
    handler = AsyncSocketModeHandler(world.app, world.fake.app_token)
    await handler.connect_async()
    try:
        event = world.fake.add_user_message(
            world.channel, world.dana, "stored before the ack", thread_ts=root.ts
        )
        async with slow_outbox(world, monkeypatch):
            await world.fake.push_event(event, event_id=f"Ev{time.time_ns()}")
            assert await queued(world, session, event["ts"]), "acknowledged before it was stored"
    finally:
        await handler.close_async()

    async def delivered() -> list[str]:
        return await world.messages(session, "human_agent")

    assert await eventually(delivered, "the reply in Parlant") == ["stored before the ack"]


async def test_a_new_handoff_is_mirrored_while_another_sessions_root_waits_for_slacks_allowance(
    world: World,
) -> None:
    """A discovery pass does not wait for its syncs: a root rewrite waits its turn in
    chat.update's allowance (45 a minute for every replica), and a pass that awaited it held
    back every later session's mirror and every new handoff (a bridge starting with 10,000
    roots to redraw started 48 mirrors a minute). Last in the module: the allowance stays
    spent for the next half minute."""
    first, first_root = await world.escalate()
    await eventually(
        lambda: asyncio.sleep(0, result=world.bridge.mirrors.following(first)), "the mirror"
    )
    # The allowance spent for about half a minute, then the first session's root must change.
    for _ in range(30):
        await world.store.post_slot("method:chat.update", 60 / UPDATES_PER_MINUTE_SHARED, 10)
    record = records.claimed(
        cast(records.HandoffRecord, await world.record(first)), "dashboard:lee", "Lee", NOW
    )
    await world.parlant.sessions.update(
        first, metadata=SessionMetadataUpdateParams(set_={records.METADATA_KEY: record})
    )
    # A pass has taken the claim (its rewrite now waits) before the next handoff is made, so
    # that one is found by a later pass, not the same.
    await asyncio.sleep(2 * DISCOVERY_INTERVAL_S)

    _, second_root = await world.escalate()

    async def second_mirrored() -> bool:
        return any(
            "handing this conversation" in t for _, t in shown_in_thread(world, second_root.ts)
        )

    await eventually(second_mirrored, "the new handoff's thread")
    # ...while the first root's rewrite still waits for the allowance.
    assert "Claimed by" not in json.dumps(world.root(first_root.ts).blocks)
