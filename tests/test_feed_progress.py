"""The feed cursor the bridge stores (slack_bridge/feed.py FeedProgress) and the feed's answer
read into mirror events: pure, no I/O."""

from __future__ import annotations

from slack_bridge.feed import FeedProgress, feed_page


def test_the_cursor_waits_below_the_oldest_event_not_yet_posted() -> None:
    progress = FeedProgress(10)
    for position in (12, 15, 17):
        progress.handed(position)
    progress.read_to(20)
    assert progress.safe() == 11  # 12 is still being posted
    progress.finished(15)
    progress.finished(17)
    assert progress.safe() == 11  # later ones done do not move it past 12
    progress.finished(12)
    assert progress.safe() == 20  # everything read is done
    assert progress.in_flight() == 0


def test_with_nothing_handed_out_the_cursor_is_what_was_read() -> None:
    progress = FeedProgress(0)
    progress.read_to(5000)
    progress.read_to(4000)  # never backwards
    assert progress.safe() == 5000


def test_a_reset_starts_again_at_the_agents_head() -> None:
    progress = FeedProgress(900)
    progress.handed(901)
    progress.reset(7)
    assert progress.safe() == 7


def test_the_feed_answer_keeps_only_what_a_thread_may_show() -> None:
    def entry(position: int, kind: str, deleted: bool = False) -> dict[str, object]:
        return {
            "position": position,
            "session_id": "s1",
            "offset": position - 1,
            "id": f"ev{position}",
            "kind": kind,
            "source": "customer",
            "data": {"message": "hi"},
            "metadata": {},
            "creation_utc": "2026-12-03T10:00:00+00:00",
            "deleted": deleted,
        }

    page = feed_page(
        {
            "events": [
                entry(1, "status"),
                entry(2, "message"),
                entry(3, "tool"),
                entry(4, "custom"),
                entry(5, "message", deleted=True),
            ],
            "next": 9,
            "head": 12,
        }
    )
    assert [(e.position, e.kind) for e in page.events] == [(2, "message"), (4, "custom")]
    assert (page.next, page.head) == (9, 12)
    assert page.events[0].creation_utc is not None
    assert page.events[0].creation_utc.year == 2026
