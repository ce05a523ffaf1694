"""The satisfaction answer (handoff/satisfaction.py): pure."""

from __future__ import annotations

import pytest

from handoff.satisfaction import Rating, parse_rating


@pytest.mark.parametrize(
    ("message", "rating"),
    [
        ("4", Rating(4, "")),
        (" 5 ", Rating(5, "")),
        ("5 - quick and kind", Rating(5, "quick and kind")),
        ("3/5 took a while", Rating(3, "took a while")),
        ("2 out of 5, nobody called back", Rating(2, "nobody called back")),
        ("1! awful", Rating(1, "awful")),
        ("★★★★", Rating(4, "")),
        ("⭐⭐⭐ fine", Rating(3, "fine")),
    ],
)
def test_a_rating_and_its_comment(message: str, rating: Rating) -> None:
    assert parse_rating(message) == rating


@pytest.mark.parametrize(
    "message",
    ["What's my deductible?", "6", "10 out of 10", "45 minutes ago my car", "0", "", "five"],
)
def test_anything_else_is_the_customer_carrying_on(message: str) -> None:
    assert parse_rating(message) is None


def test_a_long_comment_is_cut() -> None:
    rated = parse_rating("5 " + "great " * 500)
    assert rated is not None and len(rated.comment) == 1000
