"""A mirrored conversation message as Slack posts it: one message per part, or several short
messages of one thread coalesced into one post while the channel has a backlog. Pure."""

from __future__ import annotations

from slack_kit.block_kit import SlackMessage, section
from slack_kit.masking import Masker
from slack_kit.text import (
    NAME_LIMIT,
    SECTION_TEXT_LIMIT,
    clip,
    split_for_slack,
    truncate,
    width,
)

# A coalesced post's notification text (`text=`): Slack shows it in notifications; the
# sections hold every message whole.
COALESCED_FALLBACK_LIMIT = 3000


def mirrored_message(speaker_label: str, text: str, *, masker: Masker) -> list[SlackMessage]:
    """One (fallback text, blocks) per part, each a single section "*Speaker:* text"."""
    label = clip(speaker_label, NAME_LIMIT)
    prefix = f"*{label}:* "
    parts = split_for_slack(masker.mask(text), limit=SECTION_TEXT_LIMIT - width(prefix))
    return [(f"{label}: {part}", [section(prefix + part)]) for part in parts]


def coalesced_message(shown: list[tuple[str, str]], *, masker: Masker) -> SlackMessage:
    """Several one-part messages (speaker label, text), oldest first, as one post: a section
    each, exactly as each would be posted alone."""
    sections = []
    lines = []
    for label, text in shown:
        [(fallback, blocks)] = mirrored_message(label, text, masker=masker)
        sections.extend(blocks)
        lines.append(fallback)
    return truncate("\n".join(lines), COALESCED_FALLBACK_LIMIT), sections


def is_one_part(label: str, text: str, *, masker: Masker) -> bool:
    """Whether the message is posted as one part (only those are coalesced)."""
    return len(mirrored_message(label, text, masker=masker)) == 1
