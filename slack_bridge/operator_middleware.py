"""The operator gate as a Bolt listener middleware, modelled on bolt-python's own
`ignoring_self_events`: a request that may not pass is answered (`ack`) here and its listener
never runs.

Every listener by which an operator acts on an escalation (the root message's buttons, Resolve
and Return to AI and their forms, a draft's Send and Dismiss and its edit form) is registered
behind it in
`slack_bridge/app.py`, so none can forget the check: `OperatorGate.refusal` (the request comes
from an escalation channel or the session's own thread, and from an operator), and the acting
`Operator` put into Bolt's `context` for the listener (`operator_of`). Whoever is refused is told
privately after Slack has been answered, and nothing changes.

Not the `message` listener: it hears every message, and a message is refused only once Inbound
has found it is a reply in an escalation thread and seen it for the first time (then it gets a
⚠️ and one private note); `Inbound.on_message` asks the same `OperatorGate` at that point. Nor
the canned-reply shortcut, whose session comes from the message's thread link:
`CannedReplies` (slack_bridge/canned.py) asks it once it has the link.

The check runs before Slack is answered (the app processes before responding): a settings
lookup or users.info's cached answer, and one store read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from handoff.actions import Operator
from slack_bridge.after_answer import after_answer
from slack_bridge.operators import OperatorGate

log = logging.getLogger(__name__)

OPERATOR = "operator"  # the key of the acting Operator in Bolt's context


@dataclass(frozen=True)
class GateTarget:
    """What a request acts on, as the gate reads it off Slack's payload."""

    session_id: str
    channel: str
    # Where a refusal is told (the escalation's thread), if the payload says.
    thread_ts: str | None


# Reads the target off a request's body; None when the request names no session at all (a
# form whose metadata is not ours): its listener turns it away on its own, acting on nothing.
TargetOf = Callable[[dict[str, Any]], GateTarget | None]
Tell = Callable[[str, str, str | None, str], Coroutine[Any, Any, None]]
Middleware = Callable[..., Awaitable[BoltResponse | None]]


def operators_only(gate: OperatorGate, tell: Tell, target_of: TargetOf) -> Middleware:
    """The listener middleware for requests whose target `target_of` reads."""

    async def operator_gate(
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[None]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        target = target_of(body)
        if target is None:
            await next()
            return None
        user = context.user_id or ""
        refusal = await gate.refusal(user, target.channel, target.session_id)
        if refusal is None:
            context[OPERATOR] = await gate.operator(user)
            await next()
            return None
        log.info("%s refused session=%s user=%s", _request_name(body), target.session_id, user)
        after_answer(tell(target.channel, user, target.thread_ts, refusal), "operator-refused")
        return await ack()

    return operator_gate


def operator_of(context: AsyncBoltContext) -> Operator:
    """The operator the gate let through, for a listener registered behind it."""
    operator = context.get(OPERATOR)
    if not isinstance(operator, Operator):
        raise RuntimeError("this listener is not registered behind the operator gate")
    return operator


def _request_name(body: dict[str, Any]) -> str:
    """ "button <action_id>" or "form <callback_id>", for the log line."""
    actions = body.get("actions") or [{}]
    if body.get("type") == "view_submission":
        return f"form {(body.get('view') or {}).get('callback_id', '')}"
    return f"button {actions[0].get('action_id', '')}"
