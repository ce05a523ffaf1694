"""The pieces of Parlant's prompts the offline NLP reads, built by Parlant's own code.

Most of what the offline service needs it reads from Parlant's structures: the engine context
(customer message, matched guidelines, staged tool calls, context variables) and the props a
prompt section carries (`tool_name`, `parameters_json`, `result_structure_text`,
`disambiguation_condition`, `context_values`). Journeys are the exception: Parlant passes a
journey step and its transitions to the model only as text. These tests build that text with
Parlant's formatters and check the readers get every field back, so a Parlant upgrade that
changes a shape (or drops a prop) fails here with the shape's name instead of the demo
silently going wrong.

Parlant's engine is imported by the tests, not at the top: every xdist worker collects the whole
suite, and importing the engine there cost each about two seconds.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parlant.core.engines.alpha.guideline_matching.generic.journey.journey_next_step_selection import (
        JourneyNodeKind,
    )

NEXT_STEP = (
    "parlant.core.engines.alpha.guideline_matching.generic.journey.journey_next_step_selection"
)
REACHABLE = "parlant.core.services.indexing.journey_reachable_nodes_evaluation"

ASK = "Ask the customer to describe the accident: what happened, when and where"
DESCRIBED = "The customer has described the accident"


def _transition_text(kind: JourneyNodeKind, edges: dict[str, str]) -> str:
    next_step = importlib.import_module(NEXT_STEP)
    selection = object.__new__(next_step.JourneyNextStepSelection)
    selection._reset_journey = False
    node = next_step._JourneyNode(
        id="2", action=ASK, kind=kind, customer_dependent_action=False, agent_dependent_action=True
    )
    return str(
        selection.get_journey_transition_map_text(
            current_node=node,
            follow_up_conditions={
                i: next_step._JourneyEdge(condition=c, target_node_action=None)
                for i, c in edges.items()
            },
            journey_title="File an Insurance Claim",
            journey_description="Collect the details of an accident.",
        )
    )


def test_a_journey_step_prompt_gives_title_action_kind_and_transitions() -> None:
    from agent.nlp.offline_nlp import read_journey_step_prompt

    next_step = importlib.import_module(NEXT_STEP)
    # The examples come before the real step in the prompt: the reader takes the last one.
    example = _transition_text(next_step.JourneyNodeKind.CHAT, {"1": "An example condition"})
    text = (
        "EXAMPLES\nJourney: Example\n"
        + example
        + "\n"
        + _transition_text(
            next_step.JourneyNodeKind.CHAT, {"1": DESCRIBED, "2": "The customer gave up"}
        )
    )

    step = read_journey_step_prompt(text)

    assert step is not None
    assert (step.title, step.action, step.kind) == ("File an Insurance Claim", ASK, "chat")
    assert dict(step.transitions) == {"1": DESCRIBED, "2": "The customer gave up"}


def test_tool_and_fork_steps_are_told_apart() -> None:
    from agent.nlp.offline_nlp import read_journey_step_prompt

    next_step = importlib.import_module(NEXT_STEP)
    tool = read_journey_step_prompt(_transition_text(next_step.JourneyNodeKind.TOOL, {}))
    fork = read_journey_step_prompt(_transition_text(next_step.JourneyNodeKind.FORK, {"1": "x"}))
    assert tool is not None and tool.kind == "tool"
    assert fork is not None and fork.kind == "fork"


def test_reachable_nodes_output_format_gives_the_step_and_its_children() -> None:
    from agent.nlp.offline_nlp import read_reachable_nodes_format

    reachable = importlib.import_module(REACHABLE)
    evaluator = object.__new__(reachable.JourneyReachableNodesEvaluator)
    node = reachable._JourneyNode(
        id="2",
        action=ASK,
        incoming_edges=[],
        outgoing_edges=[],
        kind=reachable.JourneyNodeKind.CHAT,
        customer_dependent_action=False,
    )
    children = {
        "3": reachable._ChildInfo(action="Use the tool file_claim", edge_condition=DESCRIBED),
        "4": reachable._ChildInfo(action="Say goodbye", edge_condition=None),
    }

    action, read = read_reachable_nodes_format(evaluator._get_output_format_section(node, children))

    assert action == ASK
    assert read[0] == ("3", "Use the tool file_claim", DESCRIBED)
    assert read[1][:2] == ("4", "Say goodbye") and read[1][2].startswith("<")


def test_the_props_the_offline_service_reads_are_still_passed() -> None:
    """Props are read by name: each name must still be one Parlant passes to its prompts."""
    expected = {
        "parlant.core.engines.alpha.tool_calling.single_tool_batch": (
            '"tool_name"',
            '"parameters_json"',
        ),
        "parlant.core.engines.alpha.guideline_matching.generic.disambiguation_batch": (
            '"disambiguation_condition"',
            '"result_structure_text"',
        ),
        "parlant.core.engines.alpha.prompt_builder": ('"context_values"',),
        REACHABLE: ('"output_format"',),
    }
    for name_of_module, names in expected.items():
        module = importlib.import_module(name_of_module)
        source = inspect.getsource(module)
        for name in names:
            assert name in source, f"{module.__name__} no longer passes the prop {name}"


def test_the_backtrack_prompts_still_print_what_a_restart_is_read_from() -> None:
    """A new claim after one was filed restarts the journey (offline_nlp._journey_backtrack and
    _journey_restart_node): they read the journey's title, its activation conditions and, in the
    node selection, its steps in order from these lines of Parlant's prompt text."""
    from agent.nlp.offline_nlp import _TRAVERSED

    journey = "parlant.core.engines.alpha.guideline_matching.generic.journey."
    expected = {
        journey + "journey_backtrack_check": (
            "Journey: {journey_title}",
            "Journey activation condition: ",
        ),
        journey + "journey_backtrack_node_selection": (
            "Journey: {journey_title}",
            "Journey activation condition: ",
            "STEP {node_index}: {displayed_node_action}",
            _TRAVERSED,
        ),
    }
    for name_of_module, fragments in expected.items():
        source = inspect.getsource(importlib.import_module(name_of_module))
        for fragment in fragments:
            assert fragment in source, f"{name_of_module} no longer prints {fragment!r}"


def test_a_prop_reads_as_promptbuilder_props_gives_it() -> None:
    """The offline service converts only the props its rules read (`Question.prop`), by the
    method `PromptBuilder.props` converts all of them with: each reads the same, the first
    section holding a name wins as before, and a name no section holds is None."""
    from dataclasses import dataclass
    from datetime import UTC, datetime
    from enum import Enum

    from parlant.core.context_variables import ContextVariable, ContextVariableValue
    from parlant.core.engines.alpha.prompt_builder import PromptBuilder
    from parlant.core.tools import ToolId

    from agent.nlp.offline_nlp import Question

    class Colour(Enum):
        RED = "red"

    @dataclass(frozen=True)
    class Step:
        title: str
        at: datetime
        colour: Colour
        tool: ToolId
        tags: tuple[str, ...]

    when = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    step = Step("Ask", when, Colour.RED, ToolId("built-in", "handoff"), ("a", "b"))
    variable = ContextVariable(
        id="v1",  # type: ignore[arg-type]
        name="plan",
        description="The customer's plan",
        creation_utc=when,
        tool_id=ToolId("insurance", "get_policy_details"),
        freshness_rules=None,
        tags=[],
    )
    value = ContextVariableValue(id="x1", last_modified=when, data={"tier": "gold"})  # type: ignore[arg-type]
    prompt = PromptBuilder()
    prompt.add_context_variables([(variable, value)])
    prompt.add_section(
        "first",
        "{tool_name} {step} {steps} {colour} {nested} {count}",
        props={
            "tool_name": "insurance:file_claim",
            "step": step,
            "steps": [step, step],
            "colour": Colour.RED,
            "nested": {"inner": (step, 1, None)},
            "count": 3,
        },
    )
    prompt.add_section(
        "second", "{tool_name} {only_here}", props={"tool_name": "later", "only_here": True}
    )
    question = Question(
        schema_name="Any",
        prompt_text=prompt.build(),
        props={str(n): s.props for n, s in prompt.sections.items()},
        engine=None,
        convert=prompt._prop_to_dict,
    )

    whole = prompt.props

    def first_holding(key: str) -> object:
        return next((section[key] for section in whole.values() if key in section), None)

    names = {key for section in whole.values() for key in section} - {"modified"}
    assert {"context_values", "step", "steps", "only_here"} <= names
    for name in names:
        assert question.prop(name) == first_holding(name), name
    assert question.prop("tool_name") == "insurance:file_claim"
    assert question.prop("step")["at"] == "2026-12-07T09:30:00Z"
    assert question.prop("missing") is None
