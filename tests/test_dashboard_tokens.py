"""Each AI reply's token usage on the session page, and the tokens per day on insights.

The agent (offline NLP here, whose generations report estimated usage the same way an LLM
adapter reports real usage) writes the usage into each reply's metadata; the dashboard's pages
run headless (AppTest) against that real agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parlant.client import ParlantClient

from dashboard.model import RawEvent
from dashboard.token_usage import (
    USAGE_KEY,
    ReplyTokens,
    awaiting_usage,
    reply_tokens,
    tokens_by_offset,
    tokens_caption,
    tokens_per_day,
)
from tests.test_dashboard_app import (  # noqa: F401 (dashboard_env: the module's autouse fixture)
    dashboard_env,
    hand_off,
    queue_page,
    run,
    session_page,
    transcript,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def reply(offset: int, created: datetime, usage: dict[str, object] | None) -> RawEvent:
    return RawEvent(
        offset=offset,
        source="ai_agent",
        kind="message",
        created=created,
        data={"message": "hi"},
        metadata={USAGE_KEY: usage} if usage is not None else {},
    )


def test_usage_is_read_per_reply_and_summed_per_day() -> None:
    usage = {"input_tokens": 1200, "output_tokens": 80, "generations": 9, "models": ["m"]}
    events = [
        reply(1, NOW - timedelta(days=1), usage),
        reply(3, NOW, {**usage, "input_tokens": 300}),
        reply(5, NOW, None),
        RawEvent(6, "customer", "message", NOW, {"message": "x"}, {USAGE_KEY: usage}),
    ]

    found = tokens_by_offset(events)

    assert sorted(found) == [1, 3]
    assert tokens_caption(found[1]) == "Tokens: 1,200 in · 80 out · 9 generations · m"
    per_day = tokens_per_day([(e.created, found[e.offset]) for e in events[:2]])
    assert per_day["input tokens"].tolist() == [1200, 300]
    assert per_day["replies"].tolist() == [1, 1]
    assert reply_tokens({USAGE_KEY: {"input_tokens": "lots"}}) is None
    assert tokens_per_day([]).empty


def test_a_recent_reply_without_usage_is_read_again() -> None:
    events = [reply(1, NOW - timedelta(minutes=5), None), reply(2, NOW, None)]
    assert awaiting_usage(events, NOW) == 2
    assert awaiting_usage(events[:1], NOW) is None


def test_the_session_page_shows_each_ai_replys_tokens(client: ParlantClient) -> None:
    session = hand_off(client)

    at = session_page(session)

    ai_bubbles = [b for b in at.chat_message if b.name == "ai"]
    assert ai_bubbles
    captions = [c.value for c in ai_bubbles[0].caption]
    # The offline service's figures are estimates for a model that does not exist.
    assert len(captions) == 2 and captions[1] == "Tokens: offline, no LLM"
    assert [role for role, _, _ in transcript(at)] == ["customer", "tool", "ai"]


def test_insights_say_offline_no_llm_for_the_offline_services_replies(
    client: ParlantClient,
) -> None:
    hand_off(client)
    at = queue_page()
    at.switch_page("views/insights.py")
    run(at)

    today = datetime.now(UTC).date()
    metrics = {m.label: m.value for m in at.metric}
    assert f"Input tokens, {today}" not in metrics
    assert next(s.value for s in at.subheader) == "LLM tokens per day"
    assert any(i.value.startswith("Input and output tokens: offline, no LLM.") for i in at.info)


def test_offline_replies_add_no_tokens_and_are_counted_apart() -> None:
    llm = ReplyTokens(1200, 80, 9, ("gpt-4.1",))
    offline = ReplyTokens(60000, 900, 12, ("offline-scripted", "offline-hashed-bow"))
    assert (llm.offline, offline.offline, ReplyTokens(1, 1, 1, ()).offline) == (False, True, False)
    per_day = tokens_per_day([(NOW, llm), (NOW, offline), (NOW, offline)])
    assert per_day.loc[NOW.date()].to_dict() == {
        "input tokens": 1200,
        "output tokens": 80,
        "replies": 1,
        "offline replies": 2,
    }
    assert tokens_caption(offline) == "Tokens: offline, no LLM"


def test_usage_key_is_the_agents() -> None:
    from agent.token_usage import USAGE_KEY as AGENTS

    assert USAGE_KEY == AGENTS
    assert ReplyTokens(1, 2, 3, ()).generations == 3
