"""Each AI reply's token usage on the session page, and what the agent's usage book holds per
day on insights.

The agent (offline NLP here, whose generations report estimated usage the same way an LLM
adapter reports real usage) writes the usage into each reply's metadata; the dashboard's pages
run headless (AppTest) against that real agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parlant.client import ParlantClient

from dashboard.model import RawEvent
from dashboard.token_usage import (
    USAGE_KEY,
    BilledUsage,
    ReplyTokens,
    awaiting_usage,
    billed_per_day,
    billed_usage_row,
    reply_tokens,
    tokens_by_offset,
    tokens_caption,
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
    assert reply_tokens({USAGE_KEY: {"input_tokens": "lots"}}) is None


def test_the_bill_is_summed_per_day_over_models_and_kinds() -> None:
    def row(day: str, model: str, kind: str, requests: int, tokens: int) -> object:
        return billed_usage_row(
            {
                "day": day,
                "model": model,
                "kind": kind,
                "requests": requests,
                "input_tokens": tokens,
                "output_tokens": tokens // 10,
            }
        )

    rows = [
        row("2026-03-02", "gpt-4o", "generation", 40, 52000),
        row("2026-03-02", "text-embedding-3-large", "embedding", 3, 900),
        row("2026-03-01", "gpt-4o", "generation", 2, 1000),
    ]

    per_day = billed_per_day(rows)  # type: ignore[arg-type]

    assert [str(d) for d in per_day.index] == ["2026-03-01", "2026-03-02"]
    assert per_day["input tokens"].tolist() == [1000, 52900]
    assert per_day["output tokens"].tolist() == [100, 5290]
    assert per_day["requests"].tolist() == [2, 43]
    assert billed_per_day([]).empty


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
    day = NOW.date()
    per_day = billed_per_day(
        [
            BilledUsage(day, "gpt-4.1", "generation", 9, 1200, 80),
            BilledUsage(day, "offline-scripted", "generation", 12, 60000, 900),
            BilledUsage(day, "offline-hashed-bow", "embedding", 3, 500, 0),
        ]
    )
    assert per_day.loc[day].to_dict() == {
        "input tokens": 1200,
        "output tokens": 80,
        "requests": 9,
        "offline requests": 15,
    }
    assert tokens_caption(offline) == "Tokens: offline, no LLM"


def test_usage_key_is_the_agents() -> None:
    from agent.nlp.token_usage import USAGE_KEY as AGENTS

    assert USAGE_KEY == AGENTS
    assert ReplyTokens(1, 2, 3, ()).generations == 3
