"""Masking end to end: what the handoff tool and the bridge post to Slack is masked; Parlant keeps
the full text. Real agent (offline NLP) and bridge processes, fake Slack, HTTP mode."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from slack_kit.masking import DOB_HIDDEN
from slack_kit.root_message import ACTION_CLAIM
from tests.fakes.fake_slack import Message
from tests.support.chat import new_session, say, wait_for_ai_reply
from tests.support.slack_world import SlackWorld, eventually, start_world, stop_world

CARD = "4242 4242 4242 4242"
DOB = "14/03/1985"
INCIDENT = "2024-05-02"
CLAIM = "CLM-0001"
# Sixteen digits that fail the Luhn check: an order or reference number, never masked.
NOT_A_CARD = "4242 4242 4242 4241"
BEFORE_HANDOFF = f"My card {CARD} was charged twice; my date of birth is {DOB}."
HANDOFF_REQUEST = f"I want to talk to a human about card {CARD}"
AFTER_HANDOFF = (
    f"Also: DOB {DOB}, card {CARD}, crash on {INCIDENT}, claim {CLAIM}, order {NOT_A_CARD}."
)


@pytest.fixture(scope="module", params=["default", "none"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackWorld]:
    # "default" leaves SLACK_MASK unset: masking cards and dates of birth is what you get.
    env = {"SLACK_MASK": "none"} if request.param == "none" else {}
    setup = start_world("http", tmp_path_factory.mktemp(f"mask-{request.param}"), extra_env=env)
    yield setup
    stop_world(setup)


def masking_on(world: SlackWorld) -> bool:
    return "SLACK_MASK" not in world.bridge.env_overrides


def shown(message: Message) -> str:
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


def assert_masked_as_configured(world: SlackWorld, text: str) -> None:
    if masking_on(world):
        assert CARD not in text and DOB not in text, text
        assert "[card ••••4242]" in text and DOB_HIDDEN in text, text
    else:
        assert CARD in text and DOB in text and "[card" not in text and DOB_HIDDEN not in text, text


def test_root_message_mirror_and_root_updates_carry_the_configured_mask(world: SlackWorld) -> None:
    session = new_session(world.client)
    wait_for_ai_reply(world.client, session, say(world.client, session, BEFORE_HANDOFF))
    wait_for_ai_reply(world.client, session, say(world.client, session, HANDOFF_REQUEST))

    # The handoff tool's root message: the reason (which quotes the customer) and the excerpts.
    root = world.root_for(session)
    [excerpts] = [b["text"]["text"] for b in root.blocks or [] if "Before the handoff" in str(b)]
    assert_masked_as_configured(world, excerpts)
    reason_and_fallback = root.text + json.dumps(root.blocks[1], ensure_ascii=False)
    assert CARD in reason_and_fallback or "[card ••••4242]" in reason_and_fallback
    assert (CARD in reason_and_fallback) is not masking_on(world)

    # A customer message after the handoff is mirrored; other dates and claim ids stay readable.
    say(world.client, session, AFTER_HANDOFF)
    mirrored = world.wait_in_thread(root.ts, CLAIM)
    assert_masked_as_configured(world, shown(mirrored))
    assert INCIDENT in shown(mirrored) and NOT_A_CARD in shown(mirrored)

    # The bridge's own rewrite of the root message (a claim) keeps the mask.
    world.click(root.ts, ACTION_CLAIM, world.dana)

    def claimed_root() -> Message | None:
        latest = world.root_for(session)
        return latest if "Claimed by Dana" in shown(latest) else None

    claimed = eventually(claimed_root, what="the claimed root message")
    assert_masked_as_configured(world, shown(claimed))

    # Parlant keeps what the customer wrote, in full.
    stored = [
        e.data["message"] for e in world.parlant_events(session, kinds="message", source="customer")
    ]
    assert stored == [BEFORE_HANDOFF, HANDOFF_REQUEST, AFTER_HANDOFF]
