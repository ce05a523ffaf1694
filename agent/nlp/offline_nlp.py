"""A deterministic NLP service that Parlant's real engine runs on, with no network.

Parlant asks its LLM for structured answers (a pydantic schema per question: "which of these
guidelines apply?", "which journey step is next?", "should this tool run, with what
arguments?", "draft the reply"). This service answers each of those questions by rule:
guidelines and journeys match on the customer's words (the triggers declared next to each
behaviour in `agent.insurance`), tools run when the engine offers them, and replies are the
scripted lines of whatever matched plus the tools' summaries, marked as scripted offline
replies. Questions it has no rule for get the most conservative valid answer (nothing applies,
nothing runs), built from the schema itself, so a Parlant upgrade degrades it instead of
crashing it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast, get_args, get_origin

from parlant.core.common import DefaultBaseModel
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.entity_context import EntityContext
from parlant.core.engines.alpha.prompt_builder import PromptBuilder
from parlant.core.nlp.embedding import Embedder, EmbeddingResult
from parlant.core.nlp.generation import (
    SchematicGenerationResult,
    SchematicGenerator,
    StreamingTextGenerator,
    T,
)
from parlant.core.nlp.generation_info import GenerationInfo, UsageInfo
from parlant.core.nlp.moderation import ModerationService, NoModeration
from parlant.core.nlp.service import NLPService
from parlant.core.nlp.tokenization import EstimatingTokenizer
from parlant.core.sessions import EventKind, EventSource
from pydantic import BaseModel

from handoff.packet import HANDOFF_TOOL

log = logging.getLogger(__name__)

OFFLINE_MARKER = "(Offline scripted reply)"
FALLBACK_REPLY = (
    "I can help you file a claim, check your open claims, or explain your policy coverage. "
    "If you'd like a person instead, just ask for a human."
)
MAX_REASON_CHARS = 200
DEFAULT_CLARIFICATION = "Ask the customer what they would like help with"


# A customer's message and a tool's result data -> the answer to it from that data, or None.
FollowUp = Callable[[str, Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class OfflineScript:
    """What the offline service knows about the agent: triggers and scripted lines.

    triggers: condition text -> words that make it apply to the customer's last message
        (journey step conditions included: words in a customer message that make them hold).
    replies: action text (guideline action or journey chat step) -> the line it answers with;
        `{name}` in a line is replaced by the value of the context variable `name`.
    context_triggers: condition text -> a context variable that makes it apply while it is in
        the prompt and the AI has not replied since it was set.
    journeys: journey title -> the conditions that belong to it (activation and steps), so a
        message that only matches another behaviour's words is a change of topic.
    argument_evidence: tool parameter -> words a customer message must contain to be taken as
        that argument; a tool whose argument has no such message does not run.
    evidence_openers: tool parameter or step condition -> words of the request that opens the
        window its evidence is taken from: the message with one of them and those after it.
    restarting_journeys: journey titles that a new request starts again once done or left.
    follow_ups: tool name -> what answers a customer's question from that tool's latest result
        in the session (the policy's deductible, whether a loss is covered), or None.
    renderers: context variable -> how its value is put to the customer (value, customer's
        name -> text) before it fills a line.
    clarification: the action a disambiguation asks for (give it a line in `replies`).
    handoff_categories: the (normalised) actions of the guidelines that hand off, most specific
        first -> the category the handoff gets; a turn that hands off answers with the line of
        the first one matched, alone, and files the handoff under its category.
    """

    triggers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    replies: Mapping[str, str] = field(default_factory=dict)
    context_triggers: Mapping[str, str] = field(default_factory=dict)
    journeys: Mapping[str, Sequence[str]] = field(default_factory=dict)
    argument_evidence: Mapping[str, Sequence[str]] = field(default_factory=dict)
    evidence_openers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    restarting_journeys: frozenset[str] = frozenset()
    follow_ups: Mapping[str, FollowUp] = field(default_factory=dict)
    renderers: Mapping[str, Callable[[str, str], str]] = field(default_factory=dict)
    clarification: str = DEFAULT_CLARIFICATION
    handoff_categories: Mapping[str, str] = field(default_factory=dict)

    def applies(self, condition: str, customer_message: str) -> bool:
        words = self.triggers.get(normalise_text(condition), ())
        return any(_mentions(customer_message, w) for w in words)

    def has_triggers(self, condition: str) -> bool:
        return bool(self.triggers.get(normalise_text(condition)))

    def reply_for(self, action: str | None) -> str | None:
        return self.replies.get(normalise_text(action or ""))

    def journey_conditions(self, title: str) -> set[str]:
        return {normalise_text(c) for c in self.journeys.get(normalise_text(title), ())}

    def other_topic(self, own_conditions: set[str], customer_message: str) -> bool:
        """Does the message match another behaviour's words and none of this journey's?"""
        if any(self.applies(c, customer_message) for c in own_conditions):
            return False
        return any(
            self.applies(c, customer_message) for c in self.triggers if c not in own_conditions
        )


def normalise_text(text: str) -> str:
    return " ".join(text.strip().rstrip(".").split()).lower()


def _message_text(data: Any) -> str:
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _any_mentioned(message: str, phrases: Sequence[str]) -> bool:
    return any(_mentions(message, p) for p in phrases)


def _ran_a_tool_with_arguments(data: Any) -> bool:
    """A tool event whose calls took arguments from the conversation (a claim filed, a handoff)."""
    if not isinstance(data, dict):
        return False
    return any(
        isinstance(call, dict) and call.get("arguments") for call in data.get("tool_calls", [])
    )


def current_customer_message(engine: EngineContext | None) -> str:
    """The customer's message this turn answers: their last one, unless an operator's handback
    or resolution came after it. Then the AI speaks first ("I'm back") and that message (often
    "can I talk to a person?") was the operator's to answer, not a request to act on again."""
    if engine is None:
        return ""
    for event in reversed(engine.interaction.events):
        if event.kind == EventKind.CUSTOM:
            return ""
        if event.kind == EventKind.MESSAGE and event.source == EventSource.CUSTOMER:
            return _message_text(event.data)
    return ""


def _mentions(message: str, phrase: str) -> bool:
    # Match at a word start, so "cover" finds "coverage" but "agent" does not fire on "reagent".
    return re.search(r"\b" + re.escape(phrase.lower()), message.lower()) is not None


# ---------------------------------------------------------------------------------------------
# What each question is answered from
# ---------------------------------------------------------------------------------------------


def _as_is(value: Any) -> Any:
    return value


def prop_json(to_dict: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """What `to_dict` (parlant's `PromptBuilder._prop_to_dict`) gives, calling it only for the
    values it models: it defines a pydantic class on each call, even for a string (half a
    millisecond each, a few per turn); strings, numbers and containers go by the same
    branches, in its order, here."""

    def convert(value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, tuple):
            return tuple(convert(item) for item in value)
        return to_dict(value)

    return convert


@dataclass(frozen=True)
class Question:
    """A schema request with the pieces of the prompt the rules read."""

    schema_name: str
    prompt_text: str
    # Each prompt section's props by section, as the prompt holds them; `convert` gives one the
    # JSON shape `PromptBuilder.props` would (see `OfflineSchematicGenerator.generate`).
    props: Mapping[str, Mapping[str, Any]]
    engine: EngineContext | None
    convert: Callable[[Any], Any] = _as_is

    @property
    def customer_message(self) -> str:
        return current_customer_message(self.engine)

    def context_values(self) -> dict[str, Any]:
        """The context variables this prompt shows (its "information about the context"), by name."""
        raw = self.prop("context_values")
        try:
            shown = json.loads(raw) if isinstance(raw, str) else {}
        except json.JSONDecodeError:
            return {}
        if not isinstance(shown, dict):
            return {}
        return {
            name: entry.get("value") for name, entry in shown.items() if isinstance(entry, dict)
        }

    def fresh_context_value(self, name: str) -> Any:
        """The value of context variable `name` as the prompt shows it, if the AI has not
        replied since the variable was set."""
        value = self.context_values().get(name)
        if value is None or self.engine is None:
            return value
        set_at = next(
            (v.last_modified for var, v in self.engine.state.context_variables if var.name == name),
            None,
        )
        replied_since = set_at is not None and any(
            e.kind == EventKind.MESSAGE
            and e.source == EventSource.AI_AGENT
            and e.creation_utc > set_at
            for e in self.engine.interaction.events
        )
        return None if replied_since else value

    def customer_messages_since_last_action(self) -> list[str]:
        """The customer's messages, newest first, since a tool that takes the customer's words
        last ran, or the last handoff, handback or resolution: an answer given for an earlier
        claim or before a person took over is never reused."""
        if self.engine is None:
            return []
        messages: list[str] = []
        for event in reversed(self.engine.interaction.events):
            if event.kind == EventKind.MESSAGE and event.source == EventSource.CUSTOMER:
                messages.append(_message_text(event.data))
            elif event.kind == EventKind.CUSTOM or (
                event.kind == EventKind.TOOL and _ran_a_tool_with_arguments(event.data)
            ):
                break
        return messages

    def evidence(self, words: Sequence[str], opened_by: Sequence[str] = ()) -> str | None:
        """The newest recent customer message that contains one of `words`; with `opened_by`,
        only from the newest message containing one of those (the request) onwards, so what
        the customer said before asking (a coverage question) is never taken as the answer."""
        messages = self.customer_messages_since_last_action()
        if opened_by:
            opened_at = next(
                (i for i, m in enumerate(messages) if _any_mentioned(m, opened_by)), None
            )
            if opened_at is None:
                return None
            messages = messages[: opened_at + 1]
        return next((m for m in messages if _any_mentioned(m, words)), None)

    def applies(self, condition: str, script: OfflineScript) -> bool:
        variable = script.context_triggers.get(normalise_text(condition))
        if variable:
            return self.fresh_context_value(variable) is not None
        return script.applies(condition, self.customer_message)

    def prop(self, key: str) -> Any:
        for section in self.props.values():
            if key in section:
                return self.convert(section[key])
        return None

    def result_checks(self) -> list[dict[str, Any]]:
        """The `checks` skeleton the engine printed for the batch: guideline ids and conditions."""
        raw = self.prop("result_structure_text")
        if not isinstance(raw, str):
            return []
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return []
        checks = parsed.get("checks", []) if isinstance(parsed, dict) else parsed
        return [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []

    def handoff_offered(self) -> bool:
        """Did a guideline matched this turn offer the handoff tool (the customer asked for a person)?"""
        if self.engine is None:
            return False
        return any(
            tool_id.tool_name == HANDOFF_TOOL
            for tool_ids in self.engine.state.tool_enabled_guideline_matches.values()
            for tool_id in tool_ids
        )

    def staged_tool_calls(self) -> list[dict[str, Any]]:
        if self.engine is None:
            return []
        calls: list[dict[str, Any]] = []
        for event in self.engine.state.tool_events:
            if event.kind == EventKind.TOOL and isinstance(event.data, dict):
                calls.extend(event.data.get("tool_calls", []))
        return calls


Rule = Callable[[Question, "OfflineScript"], dict[str, Any]]


def _guideline_checks(q: Question, script: OfflineScript, *flags: str) -> dict[str, Any]:
    """Fill a batch's checks: `flags` are the boolean fields that mean "applies" here."""
    checks = []
    for check in q.result_checks():
        condition = str(check.get("condition", ""))
        applies = q.applies(condition, script)
        answer = {k: v for k, v in check.items() if not isinstance(v, str) or not v.startswith("<")}
        answer.setdefault("guideline_id", str(check.get("guideline_id")))
        answer["guideline_id"] = str(answer["guideline_id"])
        answer.setdefault("condition", condition)
        for field_name in flags:
            answer[field_name] = applies
        for text_field in ("rationale", "tldr", "action"):
            if text_field in check:
                answer[text_field] = (
                    "offline: the customer's words match" if applies else "offline: no match"
                )
        checks.append(answer)
    return {"checks": checks}


def _actionable(q: Question, s: OfflineScript) -> dict[str, Any]:
    return _guideline_checks(q, s, "applies")


def _previously_applied(q: Question, s: OfflineScript) -> dict[str, Any]:
    return _guideline_checks(q, s, "condition_met_again", "should_reapply")


def _previously_applied_customer_dependent(q: Question, s: OfflineScript) -> dict[str, Any]:
    return _guideline_checks(q, s, "condition_still_met", "should_apply")


def _low_criticality(q: Question, s: OfflineScript) -> dict[str, Any]:
    return {
        "applies": {
            str(c.get("guideline_id")): q.applies(str(c.get("condition", "")), s)
            for c in q.result_checks()
        }
    }


def _response_analysis(q: Question, s: OfflineScript) -> dict[str, Any]:
    # The scripted reply always carries out what matched, so every matched guideline was applied.
    checks = []
    for check in q.result_checks():
        checks.append(
            {
                "guideline_id": str(check.get("guideline_id")),
                "action": str(check.get("action", "")),
                "guideline_applied": True,
            }
        )
    return {"checks": checks}


def _disambiguation(q: Question, s: OfflineScript) -> dict[str, Any]:
    condition = q.prop("disambiguation_condition")
    ambiguous = isinstance(condition, str) and s.applies(condition, q.customer_message)
    raw = q.prop("result_structure_text")
    target_ids: list[str] = []
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
            for key, value in parsed.items():
                if key.startswith("guidelines") and isinstance(value, list):
                    target_ids = [str(v.get("guideline_id")) for v in value if isinstance(v, dict)]
        except json.JSONDecodeError:
            pass
    return {
        "tldr": "offline: vague request" if ambiguous else "offline: clear request",
        "ambiguity_condition_met": ambiguous,
        "disambiguation_requested": False,
        "customer_resolved": False,
        "is_ambiguous": ambiguous,
        "guidelines": [
            {"guideline_id": i, "tldr": "offline", "requires_disambiguation": True}
            for i in (target_ids if ambiguous else [])
        ],
        "clarification_action": s.clarification if ambiguous else "",
    }


# ---------------------------------------------------------------------------------------------
# Journey prompts. Parlant passes a journey's steps to the model only as prompt text (no props),
# so these two readers parse the text its formatters write; tests/test_offline_prompt_shapes.py
# builds that text with Parlant's own formatters, so a change in its shape fails there, loudly.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyStepPrompt:
    """What a next-step question says: the journey, its current step and the transitions."""

    title: str
    action: str
    kind: str  # "tool", "fork" or "chat"
    transitions: Mapping[str, str]  # condition id -> condition text, in the prompt's order


_CONDITION_LINE = re.compile(r"^Condition \(([^)]+)\): (.*)$", re.MULTILINE)


def read_journey_step_prompt(prompt_text: str) -> JourneyStepPrompt | None:
    """The last journey section of a JourneyNextStepSelection prompt (the examples come first)."""
    at = prompt_text.rfind("CURRENT STEP -")
    if at < 0:
        return None
    titles = re.findall(r"^Journey: (.*)$", prompt_text[:at], re.MULTILINE)
    steps_text = prompt_text[at:]
    action = steps_text.removeprefix("CURRENT STEP -").strip().split("\n", 1)[0].strip()
    if "TOOL EXECUTION" in steps_text:
        kind = "tool"
    elif "serves as a transition" in steps_text:
        kind = "fork"
    else:
        kind = "chat"
    return JourneyStepPrompt(
        title=titles[-1].strip() if titles else "",
        action=action,
        kind=kind,
        transitions={i: c.strip() for i, c in _CONDITION_LINE.findall(steps_text)},
    )


_CHILD = re.compile(
    r'"child_id": "(?P<id>[^"]+)",\s*"child_action": "(?P<action>[^"]*)",\s*'
    r'"condition_to_child": "(?P<condition>[^"]*)"'
)
_STEP_ACTION = re.compile(r'"step_action": "(?P<action>[^"]*)"')


def read_reachable_nodes_format(output_format: str) -> tuple[str, list[tuple[str, str, str]]]:
    """A reachable-nodes question's step action and its children as (id, action, condition);
    a condition starting with "<" is Parlant's placeholder for an edge without one."""
    step = _STEP_ACTION.search(output_format)
    children = [
        (c.group("id"), c.group("action"), c.group("condition"))
        for c in _CHILD.finditer(output_format)
    ]
    return (step.group("action") if step else ""), children


def _reachable_nodes(q: Question, s: OfflineScript) -> dict[str, Any]:
    """Index a journey node: each child is reachable by its own edge condition, one step at a time.

    Paths further ahead are left out, so a journey advances a single step per decision and the
    step rules in `_journey_next_step` see every step.
    """
    action, children = read_reachable_nodes_format(str(q.prop("output_format") or ""))
    conditions = []
    for child_id, child_action, condition in children:
        if condition.startswith("<"):  # no condition on this edge: taken once the step is done
            condition = f"{action or 'the previous step'} is done"
        conditions.append(
            {
                "child_id": child_id,
                "child_action": child_action,
                "condition_to_child": condition,
                "condition_to_child_and_stop": condition,
            }
        )
    return {
        "step_action": action,
        "step_action_completed": f"{action} is done" if action else "",
        "children_conditions": conditions or None,
    }


def _next_step(
    completed: bool, chosen: str, why: str, journey_continues: bool = True
) -> dict[str, Any]:
    return {
        "journey_continues": journey_continues,
        "current_step_completed_rationale": f"offline: {why}",
        "current_step_completed": completed,
        "next_step_rationale": f"offline: {why}",
        "applied_condition_id": chosen,
    }


def _journey_next_step(q: Question, s: OfflineScript) -> dict[str, Any]:
    """Walk the journey one step at a time, following the customer when they change topic.

    - The customer's message is about something else (another journey, a person, a legal or
      off-topic question) and nothing of this journey: the journey ends, so none of its lines
      is added to the reply and a pending tool step never runs on an unrelated message.
    - A tool step is done once its tool ran in this turn; a fork just moves on.
    - A chat step is done once the agent's last message said its scripted line, or when the
      customer already gave what a following condition needs (no asking again). A chat step
      said on an earlier turn, with the customer on to something else, ends the journey.
    - Once done, the first transition whose condition holds is taken: a condition with offline
      evidence words holds when a recent customer message has one; one without holds at once.
      None holds: the step stays (and its line is said again).
    """
    step = read_journey_step_prompt(q.prompt_text)
    if step is None:
        return _next_step(False, "0", "no journey step in the prompt")
    own = s.journey_conditions(step.title) | {normalise_text(c) for c in step.transitions.values()}
    if s.other_topic(own, q.customer_message):
        return _next_step(False, "None", "the customer changed topic", journey_continues=False)

    def holds(condition: str) -> bool:
        key = normalise_text(condition)
        words = s.triggers.get(key, ())
        return not words or q.evidence(words, s.evidence_openers.get(key, ())) is not None

    answered_ahead = any(s.has_triggers(c) and holds(c) for c in step.transitions.values())
    if step.kind == "tool":
        completed = bool(q.staged_tool_calls())
    elif (
        step.kind == "fork"
        or answered_ahead
        or (_agent_said_step(q, s, step.action) and not q.staged_tool_calls())
    ):
        completed = True
    elif any(s.applies(c, q.customer_message) for c in own):
        completed = False  # the journey starts (or restarts) here: say this step's line
    else:
        # A step said on an earlier turn that the customer has moved on from: Parlant keeps
        # such a journey's path, so it is ended here instead of repeating its line.
        return _next_step(False, "None", "the customer moved on", journey_continues=False)
    if not completed:
        return _next_step(False, "0", "the current step is not done")
    if not step.transitions:
        return _next_step(True, "None", "the journey is complete", journey_continues=False)
    chosen = next((i for i, c in step.transitions.items() if holds(c)), None)
    if chosen is None:
        return _next_step(False, "0", "no transition holds yet")
    return _next_step(True, chosen, "the transition's condition holds")


# The journey section of a backtrack question (after the examples): its title, its activation
# conditions and (in the node selection) its steps in order, as Parlant's formatters print them.
_JOURNEY_TITLE = re.compile(r"^\s*Journey: (.*)$", re.MULTILINE)
_ACTIVATION = re.compile(r"^\s*Journey activation condition: (.*)$", re.MULTILINE)
_STEP = re.compile(r"^STEP (\S+): (.*)$", re.MULTILINE)
_TRAVERSED = "The following is the journey you are now traversing"


def _new_request(q: Question, s: OfflineScript) -> bool:
    """Is the customer's message a new request for the restarting journey the prompt is about
    (a second claim), made after the journey's last one was carried out or left?"""
    titles = _JOURNEY_TITLE.findall(q.prompt_text)
    if not titles or normalise_text(titles[-1]) not in s.restarting_journeys:
        return False
    activations = _ACTIVATION.findall(q.prompt_text)
    conditions = re.findall(r'"([^"]+)"', activations[-1]) if activations else []
    if not any(s.applies(c, q.customer_message) for c in conditions):
        return False
    # The same request still pending (asked again at the ask step) is not a new one.
    earlier = q.customer_messages_since_last_action()[1:]
    return not any(s.applies(c, m) for c in conditions for m in earlier)


def _journey_backtrack(q: Question, s: OfflineScript) -> dict[str, Any]:
    """Journeys only move forward, except that a new request starts a restarting journey over
    (for a new purpose, so Parlant begins it at its first step)."""
    if _new_request(q, s):
        return {
            "rationale": "offline: a new request for a journey already carried out",
            "requires_backtracking": True,
            "backtrack_to_same_journey_process": False,
        }
    return {
        "rationale": "offline: journeys only move forward",
        "requires_backtracking": False,
        "backtrack_to_same_journey_process": False,
    }


def _journey_restart_node(q: Question, s: OfflineScript) -> dict[str, Any]:
    """Restart a journey (asked for by `_journey_backtrack`) at its first step, or at the one
    after it when the customer's message already answers the first (a description given with
    the request)."""
    at = q.prompt_text.rfind(_TRAVERSED)
    steps = _STEP.findall(q.prompt_text[at:]) if at >= 0 else []
    if not steps or not _new_request(q, s):
        return {"rationale": "offline: no journey to restart", "next_step": "None"}
    first_id = steps[0][0]
    title = _JOURNEY_TITLE.findall(q.prompt_text)[-1]
    advancement: list[dict[str, Any]] = [{"id": first_id, "completed": "needs_customer_input"}]
    if len(steps) > 1 and _answers_ahead(q, s, title):
        # The step after the first is the tool step the description feeds (filing the claim).
        advancement = [
            {"id": first_id, "completed": "completed", "follow_ups": [steps[1][0]]},
            {"id": steps[1][0], "completed": "needs_tool_call"},
        ]
    return {
        "rationale": "offline: a new request starts the journey over",
        "journey_applies": True,
        "requires_backtracking": True,
        "backtracking_target_step": first_id,
        "step_advancement": advancement,
        "next_step": advancement[-1]["id"],
    }


def _answers_ahead(q: Question, s: OfflineScript, title: str) -> bool:
    """Does the customer's message already give what the journey's first step asks for (a
    step condition of the journey with evidence in the request's window)?"""
    return any(
        q.evidence(s.triggers.get(c, ()), s.evidence_openers[c]) is not None
        for c in s.journey_conditions(title)
        if c in s.evidence_openers and s.triggers.get(c)
    )


def _agent_said_step(q: Question, s: OfflineScript, action: str) -> bool:
    """Whether the agent's last message already carried out this chat step's scripted line.

    A step without a line (one a tool's result speaks for) has nothing left to say."""
    line = s.reply_for(action)
    if q.engine is None:
        return False
    if not line:
        return True
    for event in reversed(q.engine.interaction.events):
        if event.kind == EventKind.MESSAGE and event.source == EventSource.AI_AGENT:
            return line in _message_text(event.data)
    return False


def _tool_name(q: Question) -> str:
    name = q.prop("tool_name")
    return name.split(":")[-1] if isinstance(name, str) else ""


def _tool_parameters(q: Question) -> list[str]:
    raw = q.prop("parameters_json")
    if isinstance(raw, str):
        try:
            return list(json.loads(raw).keys())
        except (json.JSONDecodeError, AttributeError):
            return []
    return []


def _tool_arguments(
    q: Question, s: OfflineScript, parameters: Sequence[str]
) -> dict[str, str] | None:
    """The arguments from the customer's words; None when one has no real answer to take.

    An argument with evidence words (the claim's description) is the newest recent customer
    message containing one, never a question or a thank-you that happens to come last.
    """
    message = q.customer_message.strip()
    arguments = {}
    for name in parameters:
        if name == "category":
            arguments[name] = _handoff_category(q, s)
            continue
        if name == "reason":
            arguments[name] = (
                f"Customer asked: {message}"[:MAX_REASON_CHARS]
                if message
                else "customer asked for a human"
            )
            continue
        words = s.argument_evidence.get(name)
        value = q.evidence(words, s.evidence_openers.get(name, ())) if words else message
        if not value or not value.strip():
            return None
        arguments[name] = value.strip()
    return arguments


def _already_ran(q: Question, tool: str) -> bool:
    return any(str(c.get("tool_id", "")).split(":")[-1] == tool for c in q.staged_tool_calls())


def _first_handoff(matches: Sequence[Any], s: OfflineScript) -> Any | None:
    """Of the matched guidelines, the most specific one that hands off."""
    actions = {normalise_text(m.guideline.content.action or ""): m for m in matches}
    return next((actions[a] for a in s.handoff_categories if a in actions), None)


def _handoff_category(q: Question, s: OfflineScript) -> str:
    """The category of the most specific handoff guideline matched this turn."""
    if q.engine is None:
        return "other"
    handoff = _first_handoff(list(q.engine.state.tool_enabled_guideline_matches), s)
    if handoff is None:
        return "other"
    return s.handoff_categories[normalise_text(handoff.guideline.content.action or "")]


def _held_back_for_handoff(q: Question, tool: str) -> bool:
    """A turn in which the customer asks for a person runs only the handoff: a journey step's
    tool would otherwise take the request itself as input (file a claim reading "a human please")."""
    return tool != HANDOFF_TOOL and q.handoff_offered()


def _should_not_run(q: Question, tool: str) -> str | None:
    """Why the tool must not run on this turn, if it must not."""
    if _already_ran(q, tool):
        return "already ran this turn"
    if _held_back_for_handoff(q, tool):
        return "the customer asked for a person"
    return None


def _non_consequential_tool(q: Question, s: OfflineScript) -> dict[str, Any]:
    tool = _tool_name(q)
    arguments = _tool_arguments(q, s, _tool_parameters(q))
    reason = _should_not_run(q, tool) or ("no answer to take" if arguments is None else None)
    if reason:
        return {"reasoning_tldr": f"offline: {reason}", "should_run": False, "calls": []}
    return {
        "reasoning_tldr": f"offline: {tool} is offered by a matched guideline",
        "should_run": True,
        "calls": [{"args": arguments}],
    }


def _consequential_tool(q: Question, s: OfflineScript) -> dict[str, Any]:
    tool = _tool_name(q)
    already_ran = _already_ran(q, tool)
    arguments = _tool_arguments(q, s, _tool_parameters(q))
    run = _should_not_run(q, tool) is None and arguments is not None
    return {
        "name": tool,
        "subtleties_to_be_aware_of": "offline",
        "tool_calls_for_candidate_tool": [
            {
                "applicability_rationale": "offline: offered by a matched guideline",
                "is_applicable": run,
                "same_call_is_already_staged": already_ran,
                "relevant_subtleties": "offline",
                "argument_evaluations": [
                    {
                        "parameter_name": name,
                        "acceptable_source_for_this_argument_according_to_its_tool_definition": "customer",
                        "evaluate_is_it_provided_by_an_acceptable_source": "yes" if run else "no",
                        "evaluate_was_it_already_provided_and_should_it_be_provided_again": "no",
                        "evaluate_is_it_potentially_problematic_to_guess_what_the_value_is_if_it_isnt_provided": "no",
                        "valid_invalid_or_missing": "valid" if run else "missing",
                        "value_as_string": value if run else None,
                    }
                    for name, value in (arguments or {}).items()
                ],
            }
        ],
    }


def compose_reply(
    engine: EngineContext | None, script: OfflineScript, context_values: Mapping[str, Any] = {}
) -> str:
    """The scripted reply: tool results of this turn, then the lines of what matched, filled in
    with the context variables the prompt shows. A turn that hands off says only that: a
    person is taking over, so what else matched is theirs to answer."""
    lines: list[str] = []
    if engine is not None:
        handing_off = False
        for event in engine.state.tool_events:
            if not isinstance(event.data, dict):
                continue
            for call in event.data.get("tool_calls", []):
                if str(call.get("tool_id", "")).split(":")[-1] == HANDOFF_TOOL:
                    handing_off = True
                    continue  # the handoff guideline's own line tells the customer
                data = (call.get("result") or {}).get("data")
                if isinstance(data, dict) and isinstance(data.get("summary"), str):
                    lines.append(data["summary"])
        matches = list(engine.state.ordinary_guideline_matches) + list(
            engine.state.tool_enabled_guideline_matches
        )
        if handing_off and script.handoff_categories:
            handoff = _first_handoff(matches, script)
            matches = [handoff] if handoff is not None else []
        values = {
            name: script.renderers[name](str(value), engine.customer.name)
            if name in script.renderers
            else value
            for name, value in context_values.items()
        }
        for match in matches:
            line = _filled(script.reply_for(match.guideline.content.action), values)
            if line and line not in lines:
                lines.append(line)
        if not handing_off:
            lines[:0] = _follow_up_answers(engine, script)
    body = " ".join(lines) if lines else FALLBACK_REPLY
    return f"{OFFLINE_MARKER} {body}"


def _latest_result(engine: EngineContext, tool: str) -> Mapping[str, Any] | None:
    """The data of `tool`'s newest result in the session: this turn's, else an earlier turn's."""
    staged = [e.data for e in reversed(engine.state.tool_events) if e.kind == EventKind.TOOL]
    earlier = [e.data for e in reversed(engine.interaction.events) if e.kind == EventKind.TOOL]
    for data in [*staged, *earlier]:
        if not isinstance(data, dict):
            continue
        for call in reversed(data.get("tool_calls", [])):
            if str(call.get("tool_id", "")).split(":")[-1] == tool:
                result = (call.get("result") or {}).get("data")
                return result if isinstance(result, dict) else None
    return None


def _follow_up_answers(engine: EngineContext, script: OfflineScript) -> list[str]:
    """Answers to the customer's last message from the data the agent already has: a follow-up
    ("is flood covered?") needs no tool to run again and never gets the generic line."""
    last = current_customer_message(engine)
    if not last:
        return []
    answers = []
    for tool, answer in script.follow_ups.items():
        data = _latest_result(engine, tool)
        line = answer(last, data) if data is not None else None
        if line:
            answers.append(line)
    return answers


def _filled(line: str | None, values: Mapping[str, Any]) -> str | None:
    """`line` with each `{name}` replaced by that context variable's value."""
    if not line:
        return line
    for name, value in values.items():
        line = line.replace("{" + name + "}", str(value))
    return line


def _draft(q: Question, s: OfflineScript) -> dict[str, Any]:
    return {
        "last_message_of_user": q.customer_message,
        "guidelines": [],
        "insights": [],
        "response_body": compose_reply(q.engine, s, q.context_values()),
    }


def _message(q: Question, s: OfflineScript) -> dict[str, Any]:
    return {
        "last_message_of_customer": q.customer_message,
        "produced_reply": True,
        "revisions": [
            {"revision_number": 1, "content": compose_reply(q.engine, s, q.context_values())}
        ],
    }


RULES: dict[str, Rule] = {
    "GenericActionableGuidelineMatchesSchema": _actionable,
    "GenericObservationalGuidelineMatchesSchema": _actionable,
    "GenericPreviouslyAppliedActionableGuidelineMatchesSchema": _previously_applied,
    "GenericPreviouslyAppliedActionableCustomerDependentGuidelineMatchesSchema": _previously_applied_customer_dependent,
    "GenericLowCriticalityGuidelineMatchesSchema": _low_criticality,
    "GenericResponseAnalysisSchema": _response_analysis,
    "DisambiguationGuidelineMatchesSchema": _disambiguation,
    "JourneyNextStepSelectionSchema": _journey_next_step,
    "ReachableNodesEvaluationSchema": _reachable_nodes,
    "NonConsequentialToolBatchSchema": _non_consequential_tool,
    "SingleToolBatchSchema": _consequential_tool,
    "CannedResponseDraftSchema": _draft,
    "MessageSchema": _message,
    "CannedResponsePreambleSchema": lambda q, s: {"preamble": ""},
    "JourneyBacktrackCheckSchema": _journey_backtrack,
    "JourneyBacktrackNodeSelectionSchema": _journey_restart_node,
}


# ---------------------------------------------------------------------------------------------
# A valid, conservative answer for any schema without a rule
# ---------------------------------------------------------------------------------------------


def conservative_answer(model: type[BaseModel]) -> dict[str, Any]:
    """Required fields filled with "no"/empty values; optional fields left to their defaults."""
    answer: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if not info.is_required():
            continue
        answer[name] = _empty_value(info.annotation)
    return answer


def _empty_value(annotation: Any) -> Any:
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is not None and type(None) in get_args(annotation):
        return None
    if annotation is bool:
        return False
    if annotation is str:
        return ""
    if annotation in (int, float):
        return 0
    if origin in (list, tuple, set, abc.Sequence, abc.Set) or annotation in (list, tuple):
        return []
    if origin in (dict, abc.Mapping):
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return conservative_answer(annotation)
    if args:
        return _empty_value(args[0])
    if hasattr(annotation, "__members__"):  # an Enum: its first member
        return next(iter(annotation.__members__.values())).value
    return None


# ---------------------------------------------------------------------------------------------
# The Parlant NLPService interface
# ---------------------------------------------------------------------------------------------


class _CharTokenizer(EstimatingTokenizer):
    async def estimate_token_count(self, prompt: str) -> int:
        return max(1, len(prompt) // 4)


class OfflineEmbedder(Embedder):
    """Hashed bag-of-words vectors: similar wording ranks close, with no model to download."""

    DIMENSIONS = 256

    def __init__(self) -> None:
        self._tokenizer = _CharTokenizer()

    async def embed(self, texts: list[str], hints: Mapping[str, Any] = {}) -> EmbeddingResult:
        return EmbeddingResult(vectors=[self._vector(text) for text in texts])

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.DIMENSIONS
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            vector[bucket % self.DIMENSIONS] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    @property
    def id(self) -> str:
        return "offline-hashed-bow"

    @property
    def max_tokens(self) -> int:
        return 8192

    @property
    def tokenizer(self) -> EstimatingTokenizer:
        return self._tokenizer

    @property
    def dimensions(self) -> int:
        return self.DIMENSIONS


class OfflineSchematicGenerator(SchematicGenerator[T]):
    def __init__(self, script: OfflineScript) -> None:
        self._script = script
        self._tokenizer = _CharTokenizer()

    @property
    def id(self) -> str:
        return "offline-scripted"

    @property
    def max_tokens(self) -> int:
        return 128_000

    @property
    def tokenizer(self) -> EstimatingTokenizer:
        return self._tokenizer

    async def generate(
        self, prompt: str | PromptBuilder, hints: Mapping[str, Any] = {}
    ) -> SchematicGenerationResult[T]:
        started = time.perf_counter()
        schema: type[DefaultBaseModel] = self.schema
        # Not `prompt.props`: that converts every prop of every section to JSON, defining a
        # pydantic model class for each value (parlant's PromptBuilder._prop_to_dict), and was
        # a third of the offline agent's CPU. The rules read a few props: only those are
        # converted, by the same method.
        question = Question(
            schema_name=schema.__name__,
            prompt_text=prompt if isinstance(prompt, str) else prompt.build(),
            props={}
            if isinstance(prompt, str)
            else {str(name): section.props for name, section in prompt.sections.items()},
            engine=EntityContext.get(),
            convert=_as_is if isinstance(prompt, str) else prop_json(prompt._prop_to_dict),
        )
        rule = RULES.get(question.schema_name)
        raw = rule(question, self._script) if rule else conservative_answer(schema)
        log.debug(
            "offline answer %s%s: %s",
            question.schema_name,
            f" ({journey.title})"
            if (journey := read_journey_step_prompt(question.prompt_text))
            else "",
            raw,
        )
        try:
            content = schema.model_validate(raw)
        except ValueError:
            log.exception("offline rule for %s gave an invalid answer", question.schema_name)
            content = schema.model_validate(conservative_answer(schema))
        return SchematicGenerationResult(
            content=cast(T, content),
            info=GenerationInfo(
                schema_name=question.schema_name,
                model=self.id,
                duration=time.perf_counter() - started,
                usage=UsageInfo(input_tokens=len(question.prompt_text) // 4, output_tokens=0),
            ),
        )


class OfflineNLPService(NLPService):
    """Parlant's NLPService with scripted answers: no network, no keys, same engine."""

    def __init__(self, script: OfflineScript) -> None:
        self._script = script

    @property
    def supports_streaming(self) -> bool:
        return False

    async def get_schematic_generator(
        self, t: type[T], hints: Mapping[str, Any] = {}
    ) -> SchematicGenerator[T]:
        # Parametrised, because Parlant's container registers generators by __orig_class__.
        return OfflineSchematicGenerator[t](self._script)  # type: ignore[valid-type]

    async def get_streaming_text_generator(
        self, hints: Mapping[str, Any] = {}
    ) -> StreamingTextGenerator:
        raise NotImplementedError("the offline service does not stream")

    async def get_embedder(self, hints: Mapping[str, Any] = {}) -> Embedder:
        return OfflineEmbedder()

    async def get_moderation_service(self) -> ModerationService:
        return NoModeration()
