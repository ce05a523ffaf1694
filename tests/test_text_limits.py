"""Measuring and cutting text to Slack's limits (slack_kit/text.py), exactly.

test_slack_blocks.py checks the promises (parts fit, reassemble, stay inert) over generated
text; these pin where each cut falls, so that `make mutation` sees a changed boundary.
"""

from __future__ import annotations

import pytest

from slack_kit.text import split_for_slack, truncate, width

ACCENT = "\u0301"  # a combining acute accent (Mn)
ZWJ = "\u200d"


def test_width_counts_utf16_code_units() -> None:
    assert width("a😀") == 3
    assert width("\uffff") == 1  # the last character of the basic plane
    assert width("\U00010000") == 2  # the first one beyond it


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("x" * 10, 10, "x" * 10),  # exactly at the limit: whole
        ("x" * 20, 10, "x" * 9 + "…"),  # the ellipsis counts
        ("😀" * 10, 7, "😀" * 3 + "…"),
        ("\uffff" * 10, 7, "\uffff" * 6 + "…"),
        ("\U00010000" * 10, 7, "\U00010000" * 3 + "…"),
        ("  ab  cdef", 7, "  ab…"),  # trailing spaces before the ellipsis go, leading ones stay
    ],
)
def test_truncate_fits_the_limit_in_utf16_units(text: str, limit: int, cut: str) -> None:
    assert truncate(text, limit) == cut


@pytest.mark.parametrize(
    ("pair", "cut"),
    [
        ("\ud800\udc00", "abcde…"),  # the lowest surrogate pair: not split
        ("\udbff\udfff", "abcde…"),  # the highest
        ("\ud800x", "abcde\ud800…"),  # a lone high surrogate is no pair
        ("x\udc00", "abcdex…"),  # nor a lone low one
    ],
)
def test_surrogate_pairs_left_undecoded_are_never_split(pair: str, cut: str) -> None:
    assert truncate("abcde" + pair + "fghij", 7) == cut


@pytest.mark.parametrize(
    "mark",
    [
        ACCENT,
        "\u20dd",  # combining enclosing circle (Me)
        "\u0903",  # devanagari visarga, a spacing mark (Mc)
        chr(0x1F3FB),  # the lightest skin tone
        chr(0x1F3FF),  # the darkest
        chr(0xE0020),  # the first tag character (subdivision flags)
        chr(0xE007F),  # the cancel tag
        ZWJ,
    ],
)
def test_a_character_is_not_cut_from_the_marks_that_belong_to_it(mark: str) -> None:
    assert truncate("abcde" + mark + "fghij", 6) == "abcd…"


@pytest.mark.parametrize("other", ["x", chr(0x1F3FA), chr(0x1F400), chr(0xE001F), chr(0xE0080)])
def test_characters_next_to_those_ranges_start_their_own_grapheme(other: str) -> None:
    assert truncate("abcde" + other + "fghij", 6) == "abcde…"


def test_after_a_zero_width_joiner_the_next_character_is_part_of_the_emoji() -> None:
    assert truncate("abcd" + ZWJ + "efghij", 6) == "abc…"


def test_flags_are_cut_between_pairs_of_regional_indicators_only() -> None:
    # 🇦🇿 then 🇿🇦: the lowest and the highest regional indicator, each two units wide.
    assert truncate("abc🇦🇿🇿🇦", 10) == "abc🇦🇿…"
    assert truncate("abc🇦xyz", 6) == "abc🇦…"  # a lone indicator before a letter is cut after
    assert truncate("abc🇿\U0001f200xyz", 6) == "abc🇿…"  # U+1F200 follows the indicators


def test_stacked_accents_are_cut_where_the_text_fits_rather_than_half_as_long() -> None:
    # No grapheme boundary in the second half of the budget: a cut inside the cluster.
    assert truncate("abcde" + ACCENT * 30, 15) == "abcde" + ACCENT * 9 + "…"
    assert truncate("abcdefgh" + ACCENT * 30, 14) == "abcdefg…"  # a boundary just past half
    assert truncate("abcdefg" + ACCENT * 30, 15) == "abcdefg" + ACCENT * 7 + "…"  # one before it


def test_a_cut_inside_a_cluster_still_keeps_surrogate_pairs_whole() -> None:
    text = "abcde" + ACCENT * 7 + ZWJ + "\ud83d\ude00" + "zzzz"
    assert truncate(text, 15) == "abcde" + ACCENT * 7 + ZWJ + "…"


def test_raw_ampersands_in_plain_text_are_cut_normally() -> None:
    # plain_text headers are truncated unescaped: a bare "&" is not an entity.
    text = "Q&A " + "x" * 200
    assert truncate(text, 150) == text[:149] + "…"


# --- split_for_slack: parts of at most `limit`, markers included ------------------------------


def test_the_default_limit_is_2900() -> None:
    assert split_for_slack("x" * 2900) == ["x" * 2900]
    assert len(split_for_slack("x" * 2901)) == 2


def test_part_content_leaves_room_for_the_widest_marker() -> None:
    parts = split_for_slack("x" * 5000, limit=1000)
    assert parts[0] == "_(part 1/6)_ " + "x" * 985  # 1000 minus "_(part 15/15)_ "
    assert parts[-1] == "_(part 6/6)_ " + "x" * (5000 - 5 * 985)


def test_a_message_that_fills_its_last_part_has_no_notice() -> None:
    parts = split_for_slack("x" * 537, limit=300, max_parts=2)
    assert parts == ["_(part 1/2)_ " + "x" * 287, "_(part 2/2)_ " + "x" * 250]


def test_a_space_early_in_the_window_does_not_end_a_part() -> None:
    parts = split_for_slack("x" * 120 + " " + "x" * 400, limit=300, max_parts=2)
    assert parts == ["_(part 1/2)_ " + "x" * 120 + " " + "x" * 166, "_(part 2/2)_ " + "x" * 234]


def test_a_space_carrying_an_accent_is_not_a_place_to_cut() -> None:
    text = "x" * 200 + " " + ACCENT + "x" * 200
    parts = split_for_slack(text, limit=300, max_parts=2)
    assert parts[0] == "_(part 1/2)_ " + text[:287]


def test_parts_end_at_spaces_whatever_the_word_length() -> None:
    parts = split_for_slack("words " * 600, limit=1000)
    assert all(p.endswith(" ") and width(p) > 980 for p in parts[:-1])


def test_the_smallest_limit_leaves_forty_characters_of_content() -> None:
    # 133 = 40 of content + "_(part 2/2)_ " (13) + the notice for 500 characters (80).
    assert len(split_for_slack("x" * 500, limit=133, max_parts=2)) == 2
    with pytest.raises(ValueError) as refused:
        split_for_slack("x" * 500, limit=132, max_parts=2)
    assert str(refused.value) == "limit 132 with max_parts 2 leaves no room for content"
