"""The customer's answer to the satisfaction question (handoff/satisfaction.py), taken before
the AI's turn: a rating is recorded in the handoff record and thanked for, and the turn ends
there; anything else marks the question skipped and the AI answers as ever.

Only the first customer message after the question counts, and only while the record is the
resolved handoff that asked it (a new handoff replaces the record).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import parlant.sdk as p
from parlant.core.engines.alpha.engine_context import EngineContext
from parlant.core.engines.alpha.hooks import EngineHookResult, EngineHooks
from parlant.core.sessions import Event, EventKind, EventSource, MessageEventData

from handoff.record import METADATA_KEY, HandoffRecord, read_record, utc_now_iso
from handoff.satisfaction import THANKS, parse_rating

log = logging.getLogger(__name__)


def awaiting_answer(record: HandoffRecord | None) -> bool:
    return (
        record is not None
        and record.get("status") == "resolved"
        and bool(record.get("satisfaction_asked_at"))
        and not record.get("satisfaction")
    )


def first_answer(events: Sequence[Event]) -> Event | None:
    """The customer's first message after the last satisfaction question (its event, in the
    agent's voice, carries `metadata.satisfaction`), if it is the last thing they said."""
    asked = [
        e.offset
        for e in events
        if e.kind == EventKind.MESSAGE and (e.metadata or {}).get("satisfaction") == "question"
    ]
    if not asked:
        return None
    after = [
        e
        for e in events
        if e.kind == EventKind.MESSAGE and e.source == EventSource.CUSTOMER and e.offset > asked[-1]
    ]
    return after[0] if len(after) == 1 else None


async def take_answer(
    context: EngineContext, payload: Any = None, exception: Exception | None = None
) -> EngineHookResult:
    record = read_record(context.session.metadata)
    if record is None or not awaiting_answer(record):
        return EngineHookResult.CALL_NEXT
    answer = first_answer(context.interaction.events)
    if answer is None:
        return EngineHookResult.CALL_NEXT
    data = answer.data if isinstance(answer.data, Mapping) else {}
    rating = parse_rating(str(data.get("message", "")))
    session = p.Session.current
    if rating is None:
        await _record(session, record, {"skipped": True})
        return EngineHookResult.CALL_NEXT  # they carried on: the AI answers them
    await _record(
        session,
        record,
        {"rating": rating.rating, "comment": rating.comment, "at": utc_now_iso()},
    )
    log.info("satisfaction rated session=%s rating=%d", context.session.id, rating.rating)
    message: MessageEventData = {
        "message": THANKS,
        "participant": {"id": context.agent.id, "display_name": context.agent.name},
    }
    await context.session_event_emitter.emit_message_event(
        trace_id=context.tracer.trace_id, data=message
    )
    await context.session_event_emitter.emit_status_event(
        trace_id=context.tracer.trace_id, data={"status": "ready", "data": {}}
    )
    return EngineHookResult.BAIL


async def _record(session: Any, record: HandoffRecord, answer: dict[str, Any]) -> None:
    updated = cast(HandoffRecord, {**record, "satisfaction": answer})
    await session.metadata.set(METADATA_KEY, dict(updated))


async def install(hooks: EngineHooks) -> EngineHooks:
    hooks.on_acknowledged.append(take_answer)
    return hooks
