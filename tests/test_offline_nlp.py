"""The offline NLP service's rules, without a server."""

from __future__ import annotations

import inspect

import parlant.core.engines.alpha.canned_response_generator as canned
import parlant.core.engines.alpha.guideline_matching.generic.journey.journey_next_step_selection as journey
import parlant.core.engines.alpha.tool_calling.single_tool_batch as tools
import parlant.core.services.indexing.journey_reachable_nodes_evaluation as reachable
import pytest
from parlant.core.common import DefaultBaseModel

from agent import insurance
from agent.offline_nlp import (
    FALLBACK_REPLY,
    OFFLINE_MARKER,
    OfflineScript,
    compose_reply,
    conservative_answer,
)
from agent.server import offline_script

SCHEMA_MODULES = [canned, journey, tools, reachable]


@pytest.mark.parametrize(
    "schema",
    [
        obj
        for module in SCHEMA_MODULES
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, DefaultBaseModel) and obj.__name__.endswith("Schema")
    ],
    ids=lambda s: s.__name__,
)
def test_conservative_answer_is_valid_for_parlant_schemas(schema: type[DefaultBaseModel]) -> None:
    schema.model_validate(conservative_answer(schema))


@pytest.mark.parametrize(
    "message",
    [
        "I want to talk to a human",
        "Can I speak to a person please",
        "get me an agent",
        "I need a representative",
        "connect me to an operator",
    ],
)
def test_every_way_of_asking_for_a_person_triggers_the_handoff(message: str) -> None:
    assert offline_script().applies(insurance.HANDOFF.condition, message)


def test_triggers_match_at_word_starts_only() -> None:
    script = OfflineScript(triggers={"c": ("agent",)})
    assert script.applies("c", "Agents please")
    assert not script.applies("c", "a chemical reagent")


def test_reply_without_a_turn_context_is_the_marked_fallback() -> None:
    assert compose_reply(None, offline_script()) == f"{OFFLINE_MARKER} {FALLBACK_REPLY}"


def test_every_scripted_step_has_a_reply() -> None:
    script = offline_script()
    for journey_spec in insurance.JOURNEYS:
        for step in journey_spec.steps:
            if step.chat:
                assert script.reply_for(step.chat), step.chat
