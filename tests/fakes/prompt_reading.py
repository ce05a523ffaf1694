"""Reading a Parlant prompt as a model does: from its text alone.

The fake OpenAI-compatible server (tests/fakes/fake_openai.py) answers with the offline
service's rules (agent/nlp/offline_nlp.py). In the agent process those rules read Parlant's engine
state directly; over HTTP there is only the prompt Parlant sent. This module rebuilds what the
rules read from that text: which question it is (the schema), the interaction, the tool results
staged this turn, the context variables, the guidelines and tools offered. So whatever the
prompt leaves out (or wrongly puts in) changes the answers, exactly as it would for a real model.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parlant.core.sessions import EventKind, EventSource

from agent.nlp.offline_nlp import OfflineScript, Question
from handoff.packet import HANDOFF_TOOL

# One phrase that only the prompt of each question contains (Parlant 3.3's prompt templates),
# tried in order. A prompt matching none is refused by the fake, so a Parlant upgrade that
# changes a template fails the contract test loudly instead of degrading it.
SCHEMA_MARKERS: tuple[tuple[str, str], ...] = (
    ("GuidelineContinuousPropositionSchema", "Such guidelines will be called ‘continuous’."),
    ("CustomerDependentActionSchema", '"is_customer_dependent": "<BOOL>"'),
    ("AgentIntentionProposerSchema", '"is_agent_intention": "<BOOL>"'),
    ("ToolRunningActionSchema", '"is_tool_running_only": "<BOOL>"'),
    ("RelativeActionSchema", '"needs_rewrite": "<BOOL>"'),
    ("ReachableNodesEvaluationSchema", "If the current node has no children:"),
    ("DisambiguationGuidelineMatchesSchema", "- Ambiguity Condition: ###"),
    ("GenericResponseAnalysisSchema", '"guideline_applied": "<bool>"'),
    ("GenericPreviouslyAppliedActionableGuidelineMatchesSchema", '"should_reapply": "<BOOL>"'),
    (
        "GenericPreviouslyAppliedActionableCustomerDependentGuidelineMatchesSchema",
        '"should_apply": "<BOOL>"',
    ),
    ("GenericObservationalGuidelineMatchesSchema", "Examples of Condition Evaluations:"),
    (
        "GenericActionableGuidelineMatchesSchema",
        "to determine whether the guideline should participate in generating",
    ),
    ("JourneyBacktrackCheckSchema", '"requires_backtracking": true,'),
    ("JourneyNextStepSelectionSchema", "If the current step hasn't completed, return '0'"),
    ("NonConsequentialToolBatchSchema", "Tool call is already staged, so should not run"),
    ("CannedResponseDraftSchema", "choosing the permitted alternative (i.e., do Y)."),
)

INTERACTION_HEADER = "interaction between you and a user: ###\n"
STAGED_HEADER = "use their details to complete your task: ###\n"
CONTEXT_HEADER = (
    "information that you're given about the user and context of the interaction: ###\n"
)
_SOURCES = {
    "user": EventSource.CUSTOMER,
    "customer": EventSource.CUSTOMER,
    "ai_agent": EventSource.AI_AGENT,
    "human_agent": EventSource.HUMAN_AGENT,
    "human_agent_on_behalf_of_ai_agent": EventSource.HUMAN_AGENT_ON_BEHALF_OF_AI_AGENT,
    "system-provided": EventSource.SYSTEM,
    "system": EventSource.SYSTEM,
}
_START = datetime(2000, 1, 1, tzinfo=UTC)


class UnknownPrompt(ValueError):
    """The prompt is none of the questions the fake knows how to read."""


def schema_of(prompt: str) -> str:
    for name, marker in SCHEMA_MARKERS:
        if marker in prompt:
            return name
    raise UnknownPrompt(f"no known question in a prompt starting {prompt[:120]!r}")


# --- The pieces of text --------------------------------------------------------------------


def _list_after(prompt: str, header: str) -> list[dict[str, Any]]:
    """The Python-literal list of JSON event strings Parlant prints after `header`."""
    start = prompt.rfind(header)
    if start < 0:
        return []
    body = prompt[start + len(header) :].lstrip("\n ")
    if not body.startswith("["):
        return []
    end = body.find("]\n")
    try:
        raw = ast.literal_eval(body[: end + 1])
    except (SyntaxError, ValueError):
        return []
    return [json.loads(item) if isinstance(item, str) else item for item in raw]


def _last_json_fence(prompt: str) -> str | None:
    fences = re.findall(r"```json\n(.*?)```", prompt, re.DOTALL)
    return fences[-1].strip() if fences else None


def _output_format(prompt: str) -> str:
    at = prompt.rfind("OUTPUT FORMAT")
    return prompt[at:] if at >= 0 else ""


def _context_values(prompt: str) -> str | None:
    start = prompt.rfind(CONTEXT_HEADER)
    if start < 0:
        return None
    body = prompt[start + len(CONTEXT_HEADER) :]
    return body[: body.find("\n###")].strip()


def _tool_section(prompt: str) -> str:
    start = prompt.find("TOOL TO EVALUATE:")
    if start < 0:
        return ""
    end = prompt.find("CONTEXT OF INTERACTION:", start)
    return prompt[start : end if end > 0 else None]


def _parameters_json(tool_section: str) -> str | None:
    match = re.search(r"^Parameters: (\{.*?\n\})", tool_section, re.DOTALL | re.MULTILINE)
    return match.group(1) if match else None


def _drafted_guidelines(prompt: str) -> list[str]:
    """The "When …, then …" guidelines the reply-drafting prompt asks to follow."""
    # The last one: the examples before it have guidelines lists of their own.
    matches = re.findall(r'"guidelines": (\[[^\n]*\]),\n\s*"insights"', prompt)
    if not matches:
        return []
    try:
        return [str(g) for g in json.loads(matches[-1])]
    except json.JSONDecodeError:
        return []


# --- The engine state the offline rules read, rebuilt from the text -------------------------


@dataclass(frozen=True)
class _Content:
    action: str | None
    condition: str = ""


@dataclass(frozen=True)
class _Guideline:
    content: _Content


@dataclass(frozen=True)
class _Match:
    guideline: _Guideline


@dataclass(frozen=True)
class _ToolId:
    service_name: str
    tool_name: str


@dataclass(frozen=True)
class _Event:
    kind: EventKind
    source: EventSource
    creation_utc: datetime
    data: Any


@dataclass(frozen=True)
class _Message:
    content: str


@dataclass
class _Interaction:
    events: list[_Event]

    @property
    def last_customer_message(self) -> _Message | None:
        for event in reversed(self.events):
            if event.kind == EventKind.MESSAGE and event.source == EventSource.CUSTOMER:
                return _Message(str(event.data.get("message", "")))
        return None


@dataclass(frozen=True)
class _Variable:
    name: str


@dataclass(frozen=True)
class _VariableValue:
    last_modified: datetime


@dataclass
class _State:
    tool_events: list[_Event] = field(default_factory=list)
    context_variables: list[tuple[_Variable, _VariableValue]] = field(default_factory=list)
    ordinary_guideline_matches: list[_Match] = field(default_factory=list)
    tool_enabled_guideline_matches: dict[_Match, list[_ToolId]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Customer:
    name: str


_CUSTOMER_NAME = re.compile(r"^The user you're interacting with is called (.*)\.$", re.MULTILINE)


@dataclass
class PromptEngine:
    """Duck-typed like Parlant's EngineContext in the attributes the offline rules read."""

    interaction: _Interaction
    state: _State
    customer: _Customer = _Customer("")


def _event(position: int, raw: dict[str, Any], wrap_results: bool) -> _Event:
    data = raw.get("data")
    if wrap_results and isinstance(data, dict) and "tool_calls" in data:
        # The prompt prints a tool's result data; the engine keeps it under result["data"].
        data = {
            **data,
            "tool_calls": [
                {**call, "result": {"data": call.get("result")}} for call in data["tool_calls"]
            ],
        }
    return _Event(
        kind=EventKind(raw.get("event_kind", "custom")),
        source=_SOURCES.get(str(raw.get("event_source")), EventSource.SYSTEM),
        creation_utc=_START + timedelta(seconds=position + 1),
        data=data,
    )


def _variables(
    context_json: str | None, events: list[_Event]
) -> list[tuple[_Variable, _VariableValue]]:
    """Each context variable, set when the custom event carrying its value (a handback's note)
    appears in the interaction, or before everything if none does."""
    try:
        shown = json.loads(context_json) if context_json else {}
    except json.JSONDecodeError:
        shown = {}
    variables = []
    for name, entry in shown.items() if isinstance(shown, dict) else ():
        value = entry.get("value") if isinstance(entry, dict) else None
        set_at = _START
        for event in events:
            carries_it = isinstance(event.data, dict) and event.data.get("note") == value
            if event.kind == EventKind.CUSTOM and value is not None and carries_it:
                set_at = event.creation_utc
        variables.append((_Variable(name), _VariableValue(set_at)))
    return variables


def _action_of(guideline_text: str, script: OfflineScript) -> str | None:
    """The action of a "When …, then …" guideline: the scripted action it ends with."""
    text = guideline_text.strip().rstrip(".").lower()
    for action in script.replies:
        if text.endswith(action):
            return action
    marker = ", then "
    return guideline_text.split(marker, 1)[1] if marker in guideline_text else None


def _offered_tools(prompt: str) -> list[_ToolId]:
    return [
        _ToolId(*name.split(":", 1)) if ":" in name else _ToolId("", name)
        for name in re.findall(r"Associated Tool: ([\w:.-]+)", prompt)
    ]


def read_prompt(
    prompt: str,
    script: OfflineScript,
    schema_name: str | None = None,
    handoff_conditions: tuple[str, ...] = (),
) -> Question:
    """The offline rules' view of `prompt`, from its text alone.

    handoff_conditions: the conditions of the guidelines that offer the handoff tool, so a turn
    whose customer message matches one is known to be a handoff turn in every prompt of it.
    """
    name = schema_name or schema_of(prompt)
    events = [_event(i, e, False) for i, e in enumerate(_list_after(prompt, INTERACTION_HEADER))]
    staged = [
        _event(len(events) + i, e, True)
        for i, e in enumerate(_list_after(prompt, STAGED_HEADER))
        if e.get("event_kind") == "tool"
    ]
    interaction = _Interaction(events)
    context_json = _context_values(prompt)
    state = _State(tool_events=staged, context_variables=_variables(context_json, events))
    for text in _drafted_guidelines(prompt):
        state.ordinary_guideline_matches.append(
            _Match(_Guideline(_Content(_action_of(text, script))))
        )
    customer = interaction.last_customer_message
    tools = _offered_tools(prompt)
    if customer and any(script.applies(c, customer.content) for c in handoff_conditions):
        tools.append(_ToolId("built-in", HANDOFF_TOOL))
    if tools:
        state.tool_enabled_guideline_matches[_Match(_Guideline(_Content(None)))] = tools
    tool_section = _tool_section(prompt)
    tool_name = re.search(r"^Name: ([\w:.-]+)", tool_section, re.MULTILINE)
    section: dict[str, Any] = {
        "result_structure_text": _last_json_fence(prompt),
        "context_values": context_json,
        "output_format": _output_format(prompt),
        "tool_name": tool_name.group(1) if tool_name else None,
        "parameters_json": _parameters_json(tool_section),
    }
    return Question(
        schema_name=name,
        prompt_text=prompt,
        props={"read-from-text": {k: v for k, v in section.items() if v is not None}},
        engine=PromptEngine(  # type: ignore[arg-type]
            interaction,
            state,
            _Customer(names[-1] if (names := _CUSTOMER_NAME.findall(prompt)) else ""),
        ),
    )
