"""Reading the handoff packet out of Parlant's engine state, from inside the handoff tool.

Tools run in the engine's task, where `EntityContext.get()` is the turn's `EngineContext`:
- `state.ordinary_guideline_matches` and `state.tool_enabled_guideline_matches` are the
  guidelines matched on this turn (set before any tool runs);
- `state.journey_paths` maps each journey to the path of step indexes it has walked; while the
  tools of a turn run it still holds the path the turn started from, i.e. where the conversation
  was when the customer asked for a person;
- `interaction.events` holds earlier turns' tool events and `state.tool_events` this turn's.

Journey paths name steps by the index Parlant's `JourneyGuidelineProjection` gives each node
(1 for the root, then breadth-first), so the step's text is looked up through that same
projection rather than by re-deriving its numbering here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from lagom import Container
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.entity_context import EntityContext
from parlant.core.journey_guideline_projection import JourneyGuidelineProjection
from parlant.core.journeys import JourneyId, JourneyStore
from parlant.core.sessions import EventKind

from handoff.packet import HandoffPacket, build_packet, tool_calls_from_events

log = logging.getLogger(__name__)

# Parlant's ids for the guidelines it projects from journey steps; the journey field shows those.
JOURNEY_NODE_PREFIX = "journey_node:"


class JourneySteps:
    """Journey titles and step texts from the server's stores; bound once the server is up."""

    def __init__(self) -> None:
        self._container: Container | None = None

    def bind(self, container: Container) -> None:
        self._container = container

    async def describe(self, journey_id: str, path: Sequence[str | None]) -> tuple[str, str] | None:
        """(title, step text) for the step a path ends on; None when the path has left the journey."""
        if self._container is None or not path or path[-1] is None:
            return None
        # Parlant registers its store under the abstract type; lagom resolves it fine.
        store = self._container[JourneyStore]  # type: ignore[type-abstract]
        journey = await store.read_journey(JourneyId(journey_id))
        projected = await self._container[JourneyGuidelineProjection].project_journey_to_guidelines(
            journey.id
        )
        for guideline in projected:
            node = cast(Mapping[str, Any], guideline.metadata.get("journey_node") or {})
            if str(node.get("index")) == str(path[-1]):
                return journey.title, step_text(guideline.content.action, guideline.metadata, node)
        return journey.title, "an unknown step"


def step_text(action: str | None, metadata: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    """A chat step says what the agent does; a tool step has no action, only the tools it runs."""
    if action:
        return action
    internal = metadata.get("internal_action")
    if isinstance(internal, str) and internal:
        return internal
    tools = [str(t).rsplit(":", 1)[-1] for t in node.get("tool_ids") or []]
    return "Run " + ", ".join(tools) if tools else "the journey's start"


def _matched_guidelines(context: EngineContext) -> Iterable[tuple[str, str | None]]:
    matches = [
        *context.state.ordinary_guideline_matches,
        *context.state.tool_enabled_guideline_matches.keys(),
    ]
    for match in matches:
        if str(match.guideline.id).startswith(JOURNEY_NODE_PREFIX):
            continue
        yield match.guideline.content.condition, match.guideline.content.action


def _tool_event_data(context: EngineContext) -> list[Any]:
    earlier = [e.data for e in context.interaction.events if e.kind == EventKind.TOOL]
    this_turn = [e.data for e in context.state.tool_events if e.kind == EventKind.TOOL]
    return [*earlier, *this_turn]


def _last_moved(context: EngineContext, journey_id: str) -> int:
    """The index of the latest turn whose agent state moved this journey's path (-1: never).

    Parlant keeps the path of a journey the customer walked away from, so several journeys can
    have a step; the one that moved last is the one the conversation was in."""
    states = context.session.agent_states
    previous: Any = None
    moved = -1
    for index, state in enumerate(states):
        path = state.journey_paths.get(journey_id)  # type: ignore[call-overload]
        if path is not None and list(path) != previous:
            moved = index
        previous = list(path) if path is not None else None
    return moved


async def _current_journey(context: EngineContext, steps: JourneySteps) -> tuple[str, str] | None:
    # Journeys activated on this turn first: they are what the agent is working on right now;
    # then the journey whose path moved last.
    active = [str(j.id) for j in context.state.journeys]
    ordered = sorted(
        context.state.journey_paths.items(),
        key=lambda item: (str(item[0]) not in active, -_last_moved(context, str(item[0]))),
    )
    for journey_id, path in ordered:
        described = await steps.describe(str(journey_id), list(path))
        if described:
            return described
    return None


async def capture_packet(steps: JourneySteps) -> HandoffPacket:
    """The packet for the running turn; empty when called outside the engine (nothing to read)."""
    context = EntityContext.get()
    if context is None:
        return build_packet(None, [], [])
    try:
        journey = await _current_journey(context, steps)
    except Exception as error:
        log.warning(
            "handoff packet: journey step not found session=%s: %r", context.session.id, error
        )
        journey = None
    return build_packet(
        journey, _matched_guidelines(context), tool_calls_from_events(_tool_event_data(context))
    )
