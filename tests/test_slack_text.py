"""Operators' Slack messages arrive in Slack's wire format; customers get what the operator saw."""

from __future__ import annotations

import pytest

from slack_bridge.slack_text import plain_text


@pytest.mark.parametrize(
    ("wire", "shown"),
    [
        ("Tom &amp; Jerry &lt;3 &gt;_&lt;", "Tom & Jerry <3 >_<"),
        ("literally &amp;lt; typed", "literally &lt; typed"),
        ("ask <@U0LEE> or <@U0DANA|dana>", "ask @U0LEE or @dana"),
        ("see <#C0ESC|escalations> and <#C0ESC>", "see #escalations and #C0ESC"),
        ("<!here> and <!subteam^S1|@claims-team>", "@here and @claims-team"),
        ("<https://example.com/claims>", "https://example.com/claims"),
        (
            "<https://example.com|example.com> / <https://x.test/a|our form>",
            "example.com / our form (https://x.test/a)",
        ),
        ("<mailto:help@example.com|help@example.com>", "help@example.com"),
        ("👩‍👩‍👧‍👦 🇯🇵 مرحبا שלום *bold*", "👩‍👩‍👧‍👦 🇯🇵 مرحبا שלום *bold*"),
    ],
)
def test_plain_text(wire: str, shown: str) -> None:
    assert plain_text(wire) == shown
