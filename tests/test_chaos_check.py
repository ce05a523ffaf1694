"""The chaos checker on hand-made histories: a clean one passes, and each property, broken
alone, is reported (so a chaos run that shows zeros could have shown otherwise)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.chaos_check import (
    IN_FLIGHT_WINDOW_S,
    CustomerRequest,
    CustomerWrite,
    Disruption,
    FinalState,
    History,
    OperatorReply,
    ParlantEvent,
    Takeover,
    ThreadPost,
    Verdict,
    check,
    format_table,
    table_row,
    totals_row,
)

S1, S2 = "session-1", "session-2"
ROOT1, ROOT2 = "1000.000100", "1000.000200"
BOUND = 7.0


def write(session: str, n: int, offset: int, at: float, **kw: object) -> CustomerWrite:
    fields: dict[str, object] = {
        "session_id": session,
        "text": f"{session} line {n}",
        "sent_at": at,
        "answered_at": at + 0.1,
        "event_id": f"{session}-ev{offset}",
        "offset": offset,
        "mirrored": True,
    }
    fields.update(kw)
    return CustomerWrite(**fields)  # type: ignore[arg-type]


def failed(session: str, n: int, at: float) -> CustomerWrite:
    return CustomerWrite(
        session, f"{session} line {n}", at, at + 0.1, error="HTTP 502", mirrored=True
    )


def scenario() -> tuple[History, FinalState]:
    """Two escalations: in each an AI turn answered, then the handoff, two customer lines
    mirrored in order and two operator replies delivered in Slack's order."""
    history = History(escalations=[S1, S2])
    final = FinalState(roots={S1: [ROOT1], S2: [ROOT2]})
    for session, root in ((S1, ROOT1), (S2, ROOT2)):
        question = write(session, 0, 0, 100.0, mirrored=False, expects_ai=True)
        lines = [write(session, 1, 3, 110.0), write(session, 2, 5, 112.0)]
        history.writes += [question, *lines]
        history.replies += [
            OperatorReply(session, "1111.000001", "from dana"),
            OperatorReply(session, "1111.000002", "from lee"),
        ]
        final.events[session] = [
            ParlantEvent(session, 0, f"{session}-ev0", "message", "customer", stored_at=100.1),
            ParlantEvent(session, 1, f"{session}-ai1", "message", "ai_agent", stored_at=101.0),
            ParlantEvent(session, 3, f"{session}-ev3", "message", "customer", stored_at=110.1),
            ParlantEvent(session, 4, f"{session}-op4", "message", "human_agent", "1111.000001"),
            ParlantEvent(session, 5, f"{session}-ev5", "message", "customer", stored_at=112.1),
            ParlantEvent(session, 6, f"{session}-op6", "message", "human_agent", "1111.000002"),
        ]
        final.threads[root] = [
            ThreadPost("1200.000001", (f"{session}-ev3",), posted_at=110.5),
            ThreadPost("1200.000002", (f"{session}-ev5",), posted_at=112.5),
        ]
    return history, final


def test_a_clean_history_passes() -> None:
    history, final = scenario()
    verdict = check(history, final, BOUND)
    assert verdict.ok, verdict.problems()
    assert verdict.acknowledged == 6 and verdict.replies == 4
    assert verdict.worst_mirror_s == pytest.approx(0.4)
    assert verdict.takeover_s is None  # no bridge was killed


def test_coalesced_posts_count_once_each_in_their_order() -> None:
    history, final = scenario()
    final.threads[ROOT1] = [ThreadPost("1200.000001", (f"{S1}-ev3", f"{S1}-ev5"), 112.5)]
    assert check(history, final, BOUND).ok
    final.threads[ROOT1] = [ThreadPost("1200.000001", (f"{S1}-ev5", f"{S1}-ev3"), 112.5)]
    assert len(check(history, final, BOUND).out_of_order) == 1


def test_a_customer_message_missing_from_its_thread_is_lost() -> None:
    history, final = scenario()
    del final.threads[ROOT1][0]
    verdict = check(history, final, BOUND)
    assert verdict.lost == [f"'{S1} line 1' (session {S1}, offset 3)"]
    assert verdict.problems() == [f"customer message lost: {verdict.lost[0]}"]


def test_a_message_posted_into_another_sessions_thread_is_lost_there() -> None:
    history, final = scenario()
    moved = final.threads[ROOT1].pop(0)
    final.threads[ROOT2].append(moved)
    verdict = check(history, final, BOUND)
    assert len(verdict.lost) == 1 and "another session's thread" in verdict.lost[0]


def test_a_failed_write_is_not_expected_in_the_thread() -> None:
    history, final = scenario()
    history.writes.append(failed(S1, 9, 200.0))
    history.disruptions.append(Disruption(199.5, "kill agent-a", "agent"))
    assert check(history, final, BOUND).ok


def test_a_customer_message_posted_twice_is_duplicated() -> None:
    history, final = scenario()
    final.threads[ROOT1].append(ThreadPost("1200.000009", (f"{S1}-ev3",), 130.0))
    verdict = check(history, final, BOUND)
    assert len(verdict.duplicated) == 1 and not verdict.lost


def test_customer_messages_shown_in_another_order_are_out_of_order() -> None:
    history, final = scenario()
    first, second = final.threads[ROOT1]
    final.threads[ROOT1] = [
        dataclasses.replace(first, ts="1200.000003"),
        second,
    ]
    verdict = check(history, final, BOUND)
    assert verdict.out_of_order == [f"'{S1} line 2' shown before '{S1} line 1'"]


def test_an_operator_reply_missing_from_parlant_is_lost() -> None:
    history, final = scenario()
    final.events[S2] = [e for e in final.events[S2] if e.slack_ts != "1111.000002"]
    verdict = check(history, final, BOUND)
    assert verdict.replies_lost == [f"'from lee' (session {S2}, ts 1111.000002)"]


def test_an_operator_reply_stored_twice_is_duplicated() -> None:
    history, final = scenario()
    final.events[S1].append(
        ParlantEvent(S1, 7, f"{S1}-op7", "message", "human_agent", "1111.000001")
    )
    verdict = check(history, final, BOUND)
    assert len(verdict.replies_duplicated) == 1 and not verdict.replies_out_of_order


def test_operator_replies_delivered_against_slacks_order_are_out_of_order() -> None:
    history, final = scenario()
    events = final.events[S1]
    final.events[S1] = [
        dataclasses.replace(
            e,
            slack_ts={"1111.000001": "1111.000002", "1111.000002": "1111.000001"}.get(
                e.slack_ts or "", e.slack_ts
            ),
        )
        for e in events
    ]
    verdict = check(history, final, BOUND)
    assert verdict.replies_out_of_order == [
        f"ts 1111.000001 delivered after ts 1111.000002 (session {S1})"
    ]


def test_an_operator_reply_delivered_into_another_session_is_lost_from_its_own() -> None:
    history, final = scenario()
    wrong = next(e for e in final.events[S1] if e.slack_ts == "1111.000001")
    final.events[S1].remove(wrong)
    final.events[S2].append(dataclasses.replace(wrong, session_id=S2, offset=9))
    verdict = check(history, final, BOUND)
    assert len(verdict.replies_lost) == 1
    assert len(verdict.replies_duplicated) == 1  # S2's own reply with that ts is there twice


@pytest.mark.parametrize("roots", [[], [ROOT1, "1000.000300"]])
def test_an_escalation_needs_exactly_one_root(roots: list[str]) -> None:
    history, final = scenario()
    final.roots[S1] = roots
    final.threads.update({root: final.threads.get(ROOT1, []) for root in roots})
    verdict = check(history, final, BOUND)
    assert verdict.roots == [f"session {S1} has {len(roots)} root messages"]


def test_a_failed_post_is_excused_only_next_to_a_disruption() -> None:
    history, final = scenario()
    history.writes.append(failed(S1, 9, 200.0))
    assert len(check(history, final, BOUND).failed_requests) == 1
    # A bridge's death never excuses a customer's request: customers do not reach bridges.
    history.disruptions.append(Disruption(199.9, "kill bridge-a", "bridge"))
    assert len(check(history, final, BOUND).failed_requests) == 1
    # Too long before the request was sent: HAProxy had taken the replica out by then.
    history.disruptions.append(
        Disruption(200.0 - IN_FLIGHT_WINDOW_S - 0.5, "kill agent-b", "agent")
    )
    assert len(check(history, final, BOUND).failed_requests) == 1
    history.disruptions.append(Disruption(199.9, "kill agent-a", "agent"))
    assert check(history, final, BOUND).ok


def test_a_failed_read_is_never_excused() -> None:
    history, final = scenario()
    history.disruptions.append(Disruption(199.9, "kill agent-a", "agent"))
    history.requests.append(CustomerRequest("GET", "events", 200.0, 200.5, "HTTP 503"))
    history.requests.append(CustomerRequest("GET", "events", 201.0, 201.5))
    verdict = check(history, final, BOUND)
    assert verdict.failed_requests == ["GET events: HTTP 503"]


def test_a_customer_message_with_no_ai_message_after_it_is_an_unanswered_turn() -> None:
    history, final = scenario()
    final.events[S2] = [e for e in final.events[S2] if e.source == "customer"]
    history.replies = [r for r in history.replies if r.session_id != S2]
    verdict = check(history, final, BOUND)
    assert verdict.unanswered_turns == [f"'{S2} line 0' (session {S2}, offset 0)"]
    # An AI message before it does not answer it, nor does the customer's next message.
    final.events[S2].insert(0, ParlantEvent(S2, -1, "earlier", "message", "ai_agent"))
    assert verdict.problems() == check(history, final, BOUND).problems()
    # A person's reply after it does: the turn handed over, then its replica died.
    final.events[S2].append(ParlantEvent(S2, 9, "op", "message", "human_agent", "1111.9"))
    assert not check(history, final, BOUND).unanswered_turns


def test_a_takeover_over_the_bound_or_never_done_is_reported() -> None:
    history, final = scenario()
    history.takeovers.append(Takeover(109.0, "kill bridge-a", 2, BOUND - 0.5))
    verdict = check(history, final, BOUND)
    assert verdict.takeover_s == pytest.approx(BOUND - 0.5) and verdict.ok
    history.takeovers.append(Takeover(120.0, "kill bridge-b", 1, BOUND + 0.5))
    verdict = check(history, final, BOUND)
    assert verdict.takeover_s == pytest.approx(BOUND + 0.5)
    assert verdict.problems() == [f"takeover {BOUND + 0.5:.2f}s over the bound {BOUND:g}s"]
    history.takeovers.append(Takeover(130.0, "kill bridge-a", 3, None))
    assert check(history, final, BOUND).never_taken_over == ["3 of kill bridge-a"]


def test_an_outage_stops_the_mirrors_clock() -> None:
    history, final = scenario()
    post = final.threads[ROOT1][0]
    final.threads[ROOT1][0] = dataclasses.replace(post, posted_at=125.0)
    assert check(history, final, BOUND).worst_mirror_s == pytest.approx(125.0 - 110.1)
    # Both bridges were down from 109 s to 120 s: the clock starts at 120 s.
    history.outages.append((109.0, 120.0))
    verdict = check(history, final, BOUND)
    assert verdict.worst_mirror_s == pytest.approx(5.0)
    assert verdict.ok  # the mirror's delay is reported, not checked


def test_the_table_shows_each_count() -> None:
    verdict = Verdict(
        acknowledged=10,
        replies=4,
        lost=["a"],
        duplicated=["b", "c"],
        unanswered_turns=["d"],
        takeover_s=8.5,
        takeover_bound_s=7,
    )
    row = table_row(3, verdict, disruptions=5)
    assert row == [
        *("3", "10", "1", "2", "0", "4", "0", "0", "0", "0", "0", "1"),
        *("8.50 (over)", "-", "5"),
    ]
    text = format_table([row])
    assert text.splitlines()[0].split(" | ")[0].strip() == "seed"
    assert len(text.splitlines()) == 3


def test_the_totals_add_counts_and_keep_the_worst_times() -> None:
    first = table_row(1, Verdict(acknowledged=10, replies=4, lost=["a"], worst_mirror_s=3.0), 5)
    over = Verdict(acknowledged=7, replies_out_of_order=["x"], takeover_s=8.5, takeover_bound_s=7)
    second = table_row(2, over, 2)
    total = totals_row([first, second])
    assert total[:3] == ["total", "17", "1"]
    assert total[8] == "1"  # replies out of order
    assert total[-3:] == ["8.50 (over)", "3.0", "7"]
