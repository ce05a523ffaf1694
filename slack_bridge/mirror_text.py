"""A mirrored conversation message as Slack posts it: one message per part. Pure."""

from __future__ import annotations

from slack_escalation.block_kit import SlackMessage, section
from slack_escalation.masking import Masker
from slack_escalation.text import NAME_LIMIT, SECTION_TEXT_LIMIT, clip, split_for_slack, width


def mirrored_message(speaker_label: str, text: str, *, masker: Masker) -> list[SlackMessage]:
    """One (fallback text, blocks) per part, each a single section "*Speaker:* text"."""
    label = clip(speaker_label, NAME_LIMIT)
    prefix = f"*{label}:* "
    parts = split_for_slack(masker.mask(text), limit=SECTION_TEXT_LIMIT - width(prefix))
    return [(f"{label}: {part}", [section(prefix + part)]) for part in parts]
