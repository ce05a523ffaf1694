"""Slack text: escaping untrusted text for mrkdwn, and measuring and cutting it to Slack's limits.

Whatever a customer, operator or the agent wrote reaches mrkdwn only through `escape_mrkdwn`
(directly or through the builders that use it), because Slack turns `<!channel>`, `<@U123>` and
`<https://evil|bank>` into live mentions and disguised links. Mentions need a literal `<` unless
a message is posted with `parse="full"` or `link_names=True`, so the bridge must never set those.

Speaker labels and names are passed around unescaped and escaped where they enter mrkdwn, so
nothing is escaped twice. Conversation text (reasons, excerpts, mirrored messages) goes through
a `Masker` first, so masks are never escaped or split across parts. Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from itertools import accumulate

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
EXCERPT_LIMIT = 300
NAME_LIMIT = 100
MAX_BLOCKS = 50
# Below this a part could not hold a marker plus a few characters of content.
MIN_PART_CONTENT = 40

EMPTY_MESSAGE = "_(empty message)_"

# Explicit bidi embeddings, overrides and isolates. They cannot form a mention, but a customer can
# use them to visually reorder the bridge's own text that follows in the same line (speaker
# label, part marker). Ordinary Arabic/Hebrew text does not need them: it relies on the implicit
# bidi algorithm and LRM/RLM/ALM, which are kept, as are ZWJ (emoji sequences) and ZWNJ (Persian).
_BIDI_CONTROLS: dict[int, str | None] = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_MRKDWN_TABLE = str.maketrans(
    {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", **_BIDI_CONTROLS}
)
_PLAIN_TABLE = str.maketrans(_BIDI_CONTROLS)

_ZWJ = "\u200d"


def escape_mrkdwn(text: str) -> str:
    """Make untrusted text inert in mrkdwn: no mentions, no links, no bidi reordering."""
    return text.translate(_MRKDWN_TABLE)


def strip_bidi_controls(text: str) -> str:
    """For plain_text, which is never parsed for mentions or links: only bidi controls go."""
    return text.translate(_PLAIN_TABLE)


# --- Measuring and cutting -------------------------------------------------------------------
# Slack states its limits in "characters" without saying which kind; counting UTF-16 code units
# (as JavaScript does) is never less than counting code points, so parts fit under either rule.


def width(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _prefix_widths(text: str) -> list[int]:
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]


def _furthest_fit(prefix: list[int], start: int, budget: int) -> int:
    """The largest end such that text[start:end] is at most `budget` wide."""
    return bisect_right(prefix, prefix[start] + budget) - 1


def _breaks_unit(text: str, i: int) -> bool:
    """Would cutting before text[i] break a surrogate pair or an entity `escape_mrkdwn` wrote?"""
    if "\ud800" <= text[i - 1] <= "\udbff" and "\udc00" <= text[i] <= "\udfff":
        return True
    # Every `&` in escaped text starts one of our entities, and the longest is 5 characters.
    amp = text.rfind("&", max(0, i - 4), i)
    return amp != -1 and ";" not in text[amp:i]


def _extends_cluster(ch: str) -> bool:
    """Characters that belong to the grapheme before them (accents, emoji modifiers, tags)."""
    code = ord(ch)
    return (
        ch == _ZWJ
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _breaks_grapheme(text: str, i: int) -> bool:
    """Would cutting before text[i] split what a reader sees as one character (e.g. an emoji)?"""
    before, after = text[i - 1], text[i]
    if before == _ZWJ or _extends_cluster(after):
        return True
    if not (_is_regional_indicator(before) and _is_regional_indicator(after)):
        return False
    run = 0
    while run < i and _is_regional_indicator(text[i - 1 - run]):
        run += 1
    return run % 2 == 1  # flags are pairs: an odd run means `before` opens a flag


def _hard_cut(text: str, start: int, end: int) -> int:
    """The cut nearest to `end` that keeps graphemes whole, or at least entities and pairs."""
    middle = start + (end - start) // 2
    for i in range(end, middle, -1):
        if not _breaks_unit(text, i) and not _breaks_grapheme(text, i):
            return i
    # Only pathological input (hundreds of stacked accents) gets here.
    return next(i for i in range(end, start, -1) if not _breaks_unit(text, i))


def _cut(text: str, prefix: list[int], start: int, budget: int) -> int:
    """Where the part starting at `start` should end: a newline, else a space, else anywhere safe.

    A separator in the first half of the window is ignored, so one early line break does not
    waste a part (their number is capped).
    """
    end = _furthest_fit(prefix, start, budget)
    if end >= len(text):
        return len(text)
    middle = start + (end - start) // 2
    for separator in ("\n", " "):
        at = text.rfind(separator, middle, end)
        if at != -1 and not _breaks_grapheme(text, at + 1):
            return at + 1
    return _hard_cut(text, start, end)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` wide, ending in "…" if anything was dropped."""
    if width(text) <= limit:
        return text
    end = _hard_cut(text, 0, _furthest_fit(_prefix_widths(text), 0, limit - 1))
    return text[:end].rstrip() + "…"


def one_line(text: str) -> str:
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """Untrusted text as one escaped line of at most `limit` width."""
    return truncate(escape_mrkdwn(one_line(text)), limit)


# --- Splitting long messages -----------------------------------------------------------------


def _part_marker(index: int, total: int) -> str:
    return f"_(part {index}/{total})_ "


def _truncation_notice(hidden_characters: int) -> str:
    return (
        f"\n_… {hidden_characters:,} more characters not shown here; "
        "read the full message in the dashboard._"
    )


def _unescaped_length(escaped: str) -> int:
    return (
        len(escaped)
        - 4 * escaped.count("&amp;")
        - 3 * (escaped.count("&lt;") + escaped.count("&gt;"))
    )


def _chunks(escaped: str, budget: int, max_parts: int, notice_width: int) -> tuple[list[str], str]:
    """Up to `max_parts` consecutive pieces of `escaped`, and whatever did not fit."""
    prefix = _prefix_widths(escaped)
    chunks: list[str] = []
    start = 0
    while start < len(escaped):
        end = _cut(escaped, prefix, start, budget)
        if end < len(escaped) and len(chunks) == max_parts - 1:
            end = _cut(escaped, prefix, start, budget - notice_width)
            chunks.append(escaped[start:end])
            return chunks, escaped[end:]
        chunks.append(escaped[start:end])
        start = end
    return chunks, ""


def split_for_slack(text: str, limit: int = 2900, max_parts: int = 15) -> list[str]:
    """Escape `text` and split it into parts of at most `limit` width, markers included.

    Parts break at a newline, else a space, never inside an entity, a surrogate pair or an
    emoji. Beyond `max_parts`, the last part says how much was left out.
    """
    escaped = escape_mrkdwn(text)
    if not escaped.strip():
        return [EMPTY_MESSAGE]
    if width(escaped) <= limit:
        return [escaped]
    notice_width = width(_truncation_notice(len(text)))
    budget = limit - width(_part_marker(max_parts, max_parts))
    if max_parts < 1 or budget - notice_width < MIN_PART_CONTENT:
        raise ValueError(f"limit {limit} with max_parts {max_parts} leaves no room for content")
    chunks, hidden = _chunks(escaped, budget, max_parts, notice_width)
    total = len(chunks)
    parts = chunks
    if total > 1:
        parts = [_part_marker(i, total) + chunk for i, chunk in enumerate(chunks, 1)]
    if hidden:
        parts[-1] += _truncation_notice(_unescaped_length(hidden))
    return parts
