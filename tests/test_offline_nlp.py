"""The offline NLP service's rules, without a server.

Parlant's engine (which agent.nlp.offline_nlp and agent.server import) is imported by the tests
that use it, not at the top: every xdist worker collects the whole suite, and importing the
engine there cost each about two seconds.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

from agent import insurance

SCHEMA_MODULES = [
    "parlant.core.engines.alpha.canned_response_generator",
    "parlant.core.engines.alpha.guideline_matching.generic.journey.journey_next_step_selection",
    "parlant.core.engines.alpha.tool_calling.single_tool_batch",
    "parlant.core.services.indexing.journey_reachable_nodes_evaluation",
]


def test_conservative_answer_is_valid_for_parlant_schemas() -> None:
    from parlant.core.common import DefaultBaseModel
    from pydantic import ValidationError

    from agent.nlp.offline_nlp import conservative_answer

    schemas = [
        obj
        for name in SCHEMA_MODULES
        for _, obj in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(obj, DefaultBaseModel) and obj.__name__.endswith("Schema")
    ]
    assert len(schemas) >= len(SCHEMA_MODULES)
    refused = {}
    for schema in schemas:
        try:
            schema.model_validate(conservative_answer(schema))
        except ValidationError as error:
            refused[schema.__name__] = str(error)
    assert not refused, refused


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
    from agent.server import offline_script

    assert offline_script().applies(insurance.HANDOFF.condition, message)


def test_triggers_match_at_word_starts_only() -> None:
    from agent.nlp.offline_nlp import OfflineScript

    script = OfflineScript(triggers={"c": ("agent",)})
    assert script.applies("c", "Agents please")
    assert not script.applies("c", "a chemical reagent")


def test_reply_without_a_turn_context_is_the_marked_fallback() -> None:
    from agent.nlp.offline_nlp import FALLBACK_REPLY, OFFLINE_MARKER, compose_reply
    from agent.server import offline_script

    assert compose_reply(None, offline_script()) == f"{OFFLINE_MARKER} {FALLBACK_REPLY}"


def test_every_scripted_step_has_a_reply_or_is_said_by_its_tool() -> None:
    from agent.server import offline_script

    script = offline_script()
    for journey_spec in insurance.JOURNEYS:
        for step in journey_spec.steps:
            if step.chat and step.offline_said_by_tool:
                assert not script.reply_for(step.chat), step.chat
            elif step.chat:
                assert script.reply_for(step.chat), step.chat


def test_props_are_converted_as_parlants_prompt_builder_converts_them() -> None:
    """The offline service reads a prop in the JSON shape a prompt gives it, calling parlant's
    converter only for what parlant models (dataclasses, pydantic models, enums)."""
    import dataclasses
    import enum

    import pydantic
    from parlant.core.engines.alpha.prompt_builder import PromptBuilder

    from agent.nlp.offline_nlp import prop_json

    @dataclasses.dataclass
    class Shot:
        text: str
        weight: int

    class Kind(enum.Enum):
        TOOL = "tool"

    class Model(pydantic.BaseModel):
        x: int

    builder = PromptBuilder()
    modelled: list[object] = []

    def counted(value: object) -> object:
        modelled.append(value)
        return builder._prop_to_dict(value)

    convert = prop_json(counted)
    values: list[object] = [
        "text",
        3,
        2.5,
        True,
        None,
        {"a": [1, ("b", None)], "n": {"m": "x"}},
        [Shot("t", 1), Model(x=2), Kind.TOOL],
        (Kind.TOOL, "t"),
        Shot("s", 2),
        {"deep": {"shot": Shot("u", 3)}},
    ]
    for value in values:
        assert convert(value) == builder._prop_to_dict(value), value
    assert [type(value) for value in modelled] == [Shot, Model, Kind, Kind, Shot, Shot]
