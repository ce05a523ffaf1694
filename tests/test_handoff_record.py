"""The handoff record's transitions (handoff/record.py): what each writer leaves in the metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff import record as records
from handoff.record import HandoffNotActive, ReasonCategory

T0, T1, T2, T3 = (f"2025-03-03T09:0{i}:00+00:00" for i in range(4))


def waiting() -> records.HandoffRecord:
    return records.request_handoff(
        None, "  wants a refund  ", T0, "pending", category=ReasonCategory.COMPLAINT
    )


def test_a_request_opens_a_waiting_record_with_its_reason_time_and_slack_state() -> None:
    assert waiting() == {
        "status": "waiting",
        "reason": "wants a refund",
        "reason_category": "complaint",
        "requested_at": T0,
        "slack": {"state": "pending"},
    }
    blank = records.request_handoff(None, "   ", T0, "disabled")
    assert blank["reason"] == "customer asked for a human"
    assert blank["reason_category"] == "other"
    assert "packet" not in blank


def test_a_request_keeps_where_its_thread_starts_and_a_repeated_one_does_not_move_it() -> None:
    first = records.request_handoff(None, "asked", T0, "pending", thread_from=12)
    assert first["thread_from"] == 12
    assert records.request_handoff(first, "asked again", T1, "pending", thread_from=20) is first
    after_return = {**first, "status": "returned"}
    again = records.request_handoff(after_return, "again", T2, "pending", thread_from=30)  # type: ignore[arg-type]
    assert again["thread_from"] == 30


@pytest.mark.parametrize("status", ["returned", "resolved"])
def test_a_request_after_a_handback_or_resolve_starts_a_new_handoff(status: str) -> None:
    ended = {**waiting(), "status": status, "first_claimed_at": T1}
    again = records.request_handoff(ended, "again", T2, "pending")  # type: ignore[arg-type]
    assert again == {
        "status": "waiting",
        "reason": "again",
        "reason_category": "other",
        "requested_at": T2,
        "slack": {"state": "pending"},
        "handoffs": 2,  # the first one's record is gone; its count is not
    }
    third = records.request_handoff({**again, "status": status}, "more", T3, "pending")  # type: ignore[arg-type]
    assert records.handoff_count(third) == 3
    assert (records.handoff_count(waiting()), records.handoff_count(None)) == (1, 0)


def test_claiming_sets_who_and_when_and_keeps_the_first_claim() -> None:
    first = records.claimed(waiting(), "slack:U1", "Dana", T1)
    assert first["status"] == "claimed"
    assert first["claimed_by"] == {"id": "slack:U1", "name": "Dana"}
    assert first["claimed_at"] == first["first_claimed_at"] == T1
    again = records.claimed(first, "dashboard:lee", "Lee", T2)
    assert again["claimed_by"] == {"id": "dashboard:lee", "name": "Lee"}
    assert (again["claimed_at"], again["first_claimed_at"]) == (T2, T1)
    assert again["requested_at"] == T0 and again["reason"] == "wants a refund"


def test_the_first_human_reply_claims_a_waiting_handoff_and_is_kept() -> None:
    replied = records.after_human_reply(waiting(), "slack:U1", "Dana", T1)
    assert replied["status"] == "claimed"
    assert replied["claimed_by"] == {"id": "slack:U1", "name": "Dana"}
    assert replied["first_human_reply_at"] == replied["first_claimed_at"] == T1
    assert replied["first_human_reply_by"] == {"id": "slack:U1", "name": "Dana"}
    later = records.after_human_reply(replied, "slack:U2", "Sam", T2)
    assert later == replied


def test_a_reply_on_a_claimed_handoff_keeps_the_assignee() -> None:
    claimed = records.claimed(waiting(), "slack:U1", "Dana", T1)
    replied = records.after_human_reply(claimed, "slack:U2", "Sam", T2)
    assert replied["claimed_by"] == {"id": "slack:U1", "name": "Dana"}
    assert replied["claimed_at"] == T1
    assert replied["first_human_reply_at"] == T2
    assert replied["first_human_reply_by"] == {"id": "slack:U2", "name": "Sam"}


def test_returning_and_resolving_record_who_and_when() -> None:
    claimed = records.claimed(waiting(), "slack:U1", "Dana", T1)
    returned = records.returned(claimed, "slack:U1", "Dana", T2)
    assert returned == {
        **claimed,
        "status": "returned",
        "returned_at": T2,
        "returned_by": {"id": "slack:U1", "name": "Dana"},
    }
    resolved = records.resolved(returned, "dashboard:lee", "Lee", T3)
    assert resolved == {
        **returned,
        "status": "resolved",
        "resolved_at": T3,
        "resolved_by": {"id": "dashboard:lee", "name": "Lee"},
        # The customer is asked to rate the help from here (handoff/satisfaction.py).
        "satisfaction_asked_at": T3,
        "satisfaction": {},
    }


def test_the_slack_link_replaces_the_old_one_only() -> None:
    link: records.SlackLink = {"state": "posted", "channel": "C1", "ts": "1.2"}
    linked = records.with_slack_link(waiting(), link)
    assert linked == {**waiting(), "slack": link}


def test_the_bridges_root_link_is_read_as_the_slack_of_its_own_handoff_only() -> None:
    """The bridge writes the link of a root it posted under a key of its own
    (records.SLACK_LINK_KEY), never rewriting the record a claim may have just changed."""
    pending = records.request_handoff(None, "asked", T0, "pending")
    link: records.SlackLink = {"state": "posted", "channel": "C1", "ts": "1.2"}
    metadata = {
        records.METADATA_KEY: dict(pending),
        records.SLACK_LINK_KEY: records.bridge_slack_link(pending, link),
    }
    assert records.read_record(metadata) == {**pending, "slack": link}
    # A later handoff of the session (returned, then handed off again) is not that root's.
    again = records.request_handoff(
        records.returned(pending, "slack:U1", "Dana", T1), "again", T2, "pending"
    )
    later = {**metadata, records.METADATA_KEY: dict(again)}
    assert records.read_record(later) == again
    malformed = {**metadata, records.SLACK_LINK_KEY: {"requested_at": T0, "link": "1.2"}}
    assert records.read_record(malformed) == pending


def test_reading_the_record_from_session_metadata() -> None:
    stored = dict(waiting())
    read = records.read_record({"handoff": stored, "other": 1})
    assert read == stored and read is not stored  # a copy: writers build a new record
    assert records.read_record(None) is None
    assert records.read_record({}) is None
    assert records.read_record({"handoff": "waiting"}) is None


@pytest.mark.parametrize(
    ("record", "category"),
    [
        ({"reason_category": "legal_question"}, ReasonCategory.LEGAL_QUESTION),
        ({"reason_category": "nonsense"}, ReasonCategory.OTHER),
        ({}, ReasonCategory.OTHER),
        (None, ReasonCategory.OTHER),
    ],
)
def test_reading_the_category(record: dict[str, str] | None, category: ReasonCategory) -> None:
    assert records.read_category(record) is category


def test_category_labels_are_words() -> None:
    assert ReasonCategory.CUSTOMER_ASKED.label == "customer asked"


def test_not_active_names_the_session_and_status() -> None:
    error = HandoffNotActive("s-1", "resolved")
    assert (error.session_id, error.status) == ("s-1", "resolved")
    assert str(error) == "session s-1 is not with a human (status: resolved)"
    assert str(HandoffNotActive("s-2", None)) == "session s-2 is not with a human (status: none)"


def test_now_is_utc_to_the_second() -> None:
    now = datetime.fromisoformat(records.utc_now_iso())
    assert now.utcoffset() == timedelta(0) and now.microsecond == 0
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
