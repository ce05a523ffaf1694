"""The Bolt app: listeners only. What they do lives in `Inbound` and `OperatorActions`; every
answer to an operator goes through the bridge's `SlackCaller` (pacing, 429s).

Persist before acknowledging: Slack does not send an acknowledged event again, so an operator's
reply must be in the outbox before Slack gets the ack (in Socket Mode the envelope's ack, in
HTTP mode the answer to its request). Bolt by default answers events before it runs their
listener, and a bridge that died a moment after answering lost the reply. With
`process_before_response` Bolt answers once the listener returns: the message listener stores
the dedupe key and the outbox row (two small writes, well inside Slack's 3 s) and leaves the
delivery to Parlant to a task of its own. If storing fails, the listener raises, Bolt answers
with an error (no ack in Socket Mode, a 500 in HTTP mode) and Slack sends the event again.

Buttons and forms still answer at once: their listeners `ack` and hand the work (Parlant,
chat.update, views.open) to a task (`after_answer`), so Slack never waits for it. (Not Bolt's
lazy listeners: they deep-copy the request, which this app's client cannot be.)

Every listener by which an operator acts on an escalation is registered behind the operator
gate (`slack_bridge/operator_middleware.py`, a listener middleware): it runs only for an
operator in an escalation's channel, and takes the acting operator from Bolt's `context`.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from handoff.actions import handback_note_problem
from handoff.learning import tag_problem
from slack_bridge import (
    ai_reply_form,
    canned_form,
    draft_message,
    handback_form,
    notices,
    resolve_form,
)
from slack_bridge.after_answer import after_answer
from slack_bridge.bridge import Bridge
from slack_bridge.draft_message import DraftTarget
from slack_bridge.operator_actions import BUTTON_ACTIONS
from slack_bridge.operator_middleware import GateTarget, TargetOf, operator_of, operators_only
from slack_kit import root_message
from slack_kit.settings import SlackSettings

log = logging.getLogger(__name__)


class _SameTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment beside the client we give it, which is
    made from that very token, and warned at every start that the token "will be unused"."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def build_app(slack: SlackSettings, client: AsyncWebClient, bridge: Bridge) -> AsyncApp:
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")  # Bolt's own logger for AsyncApp
    if not any(isinstance(f, _SameTokenWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_SameTokenWarning())
    app = AsyncApp(
        # Named here: without a name Bolt reads it off `inspect.stack()`, which resolves the
        # source file of every loaded module (0.05 s per start here, 0.5 s in a process that
        # has Parlant loaded too).
        name="slack_bridge",
        client=client,
        signing_secret=slack.signing_secret or "socket-mode-does-not-sign",
        # Socket Mode frames are authenticated by the app token, not signed.
        request_verification_enabled=not slack.socket_mode,
        # Listeners run before Slack is answered: see the module's doc.
        process_before_response=True,
    )

    @app.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        # Also the catch-all: an unhandled message event gets 404 and Slack retries it.
        await bridge.inbound.on_message(event, body.get("event_id"))

    @app.action(root_message.ACTION_OPEN_DASHBOARD)
    async def on_open_dashboard(ack: Any) -> None:
        await ack()  # a link button; the browser opens the URL

    actions = bridge.actions
    tell = actions.feedback.tell

    def operators_only_on(target_of: TargetOf) -> list[Any]:
        """The `middleware` of a listener by which an operator acts on an escalation."""
        return [operators_only(bridge.gate, tell, target_of)]

    @app.action(root_message.ACTION_RETURN, middleware=operators_only_on(root_button_target))
    async def on_return(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        after_answer(open_handback(body, action, context), "open-handback")

    async def open_handback(
        body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        where = root_button_target(body)
        target = handback_form.HandbackTarget(
            action.get("value", ""), where.channel, where.thread_ts or ""
        )
        # A trigger_id expires 3 s after the click: the form is opened before anything slow.
        refusal = await actions.open_handback(
            body.get("trigger_id", ""), target, operator_of(context)
        )
        if refusal:
            await tell(target.channel, context.user_id or "", target.thread_ts, refusal)

    @app.view(handback_form.VIEW_HANDBACK, middleware=operators_only_on(handback_view_target))
    async def on_handback(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        target = handback_form.handback_target(view)
        if target is None:
            await ack()
            log.warning("handback form with unreadable metadata from user=%s", context.user_id)
            return
        note = handback_form.handback_note(view)
        problem = handback_note_problem(note)
        if problem:
            # Keeps the form open with the reason under the note field; nothing changes.
            await ack(response_action="errors", errors={handback_form.HANDBACK_BLOCK: problem})
            return
        await ack()
        after_answer(hand_back(target, note, context), "hand-back")

    async def hand_back(
        target: handback_form.HandbackTarget, note: str, context: AsyncBoltContext
    ) -> None:
        refusal = await actions.hand_back(target, operator_of(context), note)
        if refusal:
            await tell(target.channel, context.user_id or "", target.thread_ts, refusal)

    @app.action(root_message.ACTION_RESOLVE, middleware=operators_only_on(root_button_target))
    async def on_resolve(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        after_answer(open_resolve(body, action, context), "open-resolve")

    async def open_resolve(
        body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        where = root_button_target(body)
        target = resolve_form.ResolveTarget(
            action.get("value", ""), where.channel, where.thread_ts or ""
        )
        refusal = await actions.open_resolve(
            body.get("trigger_id", ""), target, operator_of(context)
        )
        if refusal:
            await tell(target.channel, context.user_id or "", target.thread_ts, refusal)

    @app.view(resolve_form.VIEW_RESOLVE, middleware=operators_only_on(resolve_view_target))
    async def on_resolved(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        target = resolve_form.resolve_target(view)
        if target is None:
            await ack()
            log.warning("resolve form with unreadable metadata from user=%s", context.user_id)
            return
        why = resolve_form.resolve_why(view)
        answer = resolve_form.resolve_answer(view)
        problem = tag_problem(why, answer)
        if problem:
            # Keeps the form open with the reason under the field; nothing changes.
            block = resolve_form.WHY_BLOCK if not why else resolve_form.ANSWER_BLOCK
            await ack(response_action="errors", errors={block: problem})
            return
        await ack()
        after_answer(resolve(target, why, answer, context), "resolve")

    async def resolve(
        target: resolve_form.ResolveTarget,
        why: str | None,
        answer: str,
        context: AsyncBoltContext,
    ) -> None:
        refusal = await actions.resolve(target, operator_of(context), why, answer)
        if refusal:
            await tell(target.channel, context.user_id or "", target.thread_ts, refusal)

    inbound = bridge.inbound

    @app.action(notices.ACTION_SEND_HELD)
    async def on_send_held(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        after_answer(release_held(body, action, send_anyway=True), "send-held")

    async def release_held(
        body: dict[str, Any], action: dict[str, Any], send_anyway: bool, text: str | None = None
    ) -> None:
        user = (body.get("user") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        thread_ts = (body.get("container") or {}).get("thread_ts")
        try:
            reply_id = int(action.get("value", ""))
        except ValueError:
            return
        refusal = await inbound.release(reply_id, user, send_anyway=send_anyway, text=text)
        if refusal and channel:
            await tell(channel, user, thread_ts, refusal)

    @app.action(notices.ACTION_EDIT_HELD)
    async def on_edit_held(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        after_answer(open_edit(body, action), "edit-held")

    async def open_edit(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = (body.get("user") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        try:
            reply_id = int(action.get("value", ""))
        except ValueError:
            return
        held = await inbound.held_for(reply_id, user)
        if isinstance(held, str):
            await tell(channel, user, None, held)
            return
        # A trigger_id expires 3 s after the click: one store read, then the form.
        await actions.open_view(
            body.get("trigger_id", ""),
            ai_reply_form.edit_modal(reply_id, held.text, held.held_rule.replace("_", " ")),
        )

    @app.view(ai_reply_form.VIEW_EDIT_HELD)
    async def on_edited(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        edited = ai_reply_form.edited_reply(view)
        if edited is None or not edited[1].strip():
            await ack(
                response_action="errors",
                errors={ai_reply_form.EDIT_BLOCK: "Write the reply to send, or cancel."},
            )
            return
        await ack()
        reply_id, text = edited
        after_answer(send_edited(body, reply_id, text), "send-edited")

    async def send_edited(body: dict[str, Any], reply_id: int, text: str) -> None:
        user = (body.get("user") or {}).get("id", "")
        refusal = await inbound.release(reply_id, user, text=text)
        if refusal:
            log.info("edited reply not sent user=%s: %s", user, refusal)

    drafts = bridge.drafts

    def draft_target(body: dict[str, Any], action: dict[str, Any]) -> DraftTarget:
        container = body.get("container") or {}
        message = body.get("message") or {}
        return DraftTarget(
            session_id=str(action.get("value", "")),
            channel=str((body.get("channel") or {}).get("id") or container.get("channel_id", "")),
            draft_ts=str(container.get("message_ts") or message.get("ts", "")),
            thread_ts=str(message.get("thread_ts") or container.get("thread_ts") or ""),
        )

    def draft_button_target(body: dict[str, Any]) -> GateTarget:
        target = draft_target(body, (body.get("actions") or [{}])[0])
        return GateTarget(target.session_id, target.channel, target.thread_ts)

    async def decide_draft(
        body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        user = context.user_id or ""
        operator = operator_of(context)
        target = draft_target(body, action)
        text = draft_message.draft_text(body.get("message") or {}) or ""
        if action["action_id"] == draft_message.ACTION_DRAFT_SEND:
            refusal = await drafts.send(target, user, operator, text, edited=False)
        else:
            refusal = await drafts.dismiss(target, user, operator, text)
        if refusal:
            await tell(target.channel, user, target.thread_ts, refusal)

    for draft_action in (draft_message.ACTION_DRAFT_SEND, draft_message.ACTION_DRAFT_DISMISS):

        @app.action(draft_action, middleware=operators_only_on(draft_button_target))
        async def on_draft(
            ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
        ) -> None:
            await ack()
            after_answer(decide_draft(body, action, context), f"draft-{action['action_id']}")

    @app.action(draft_message.ACTION_DRAFT_EDIT)
    async def on_draft_edit(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        target = draft_target(body, action)
        text = draft_message.draft_text(body.get("message") or {}) or ""
        # A trigger_id expires 3 s after the click: the form opens first, the checks come
        # with the send.
        after_answer(
            actions.open_view(body.get("trigger_id", ""), draft_message.edit_modal(target, text)),
            "draft-edit",
        )

    @app.view(draft_message.VIEW_EDIT_DRAFT, middleware=operators_only_on(draft_view_target))
    async def on_draft_edited(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        edited = draft_message.edited_draft(view)
        if edited is None or not edited[1].strip():
            await ack(
                response_action="errors",
                errors={ai_reply_form.EDIT_BLOCK: "Write the reply to send, or cancel."},
            )
            return
        await ack()
        target, text = edited
        after_answer(send_edited_draft(target, text, context), "draft-edited")

    async def send_edited_draft(target: DraftTarget, text: str, context: AsyncBoltContext) -> None:
        user = context.user_id or ""
        refusal = await drafts.send(target, user, operator_of(context), text, edited=True)
        if refusal:
            await tell(target.channel, user, target.thread_ts, refusal)

    canned = bridge.canned

    @app.shortcut(canned_form.SHORTCUT_CANNED)
    async def on_canned(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        after_answer(open_canned(body), "canned-open")

    async def open_canned(body: dict[str, Any]) -> None:
        channel = (body.get("channel") or {}).get("id", "")
        user = (body.get("user") or {}).get("id", "")
        message = body.get("message") or {}
        # A trigger_id expires 3 s after the shortcut: the thread's link and the operator gate
        # (cached), then the form.
        refusal = await canned.open(body.get("trigger_id", ""), channel, message, user)
        if refusal:
            await tell(channel, user, message.get("thread_ts") or message.get("ts"), refusal)

    @app.options(canned_form.PICK_ACTION)
    async def on_canned_search(ack: Any, body: dict[str, Any]) -> None:
        # Answered in the ack: Slack shows what it carries, within its 3 s.
        user = (body.get("user") or {}).get("id", "")
        await ack(options=await canned.search(user, str(body.get("value") or "")))

    @app.view(canned_form.VIEW_CANNED)
    async def on_canned_chosen(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = (body.get("user") or {}).get("id", "")
        picked = canned_form.chosen(view)
        if picked is None:
            log.warning("canned form with unreadable metadata from user=%s", user)
            await ack()
            return
        target, reply_id = picked
        if reply_id is None:
            await ack(
                response_action="errors",
                errors={canned_form.PICK_BLOCK: "Choose a reply to send, or cancel."},
            )
            return
        # Filled before the form closes, so a reply that cannot be sent whole says why there.
        filled = await canned.fill(target, reply_id, user)
        if isinstance(filled, str):
            await ack(response_action="errors", errors={canned_form.PICK_BLOCK: filled})
            return
        await ack()
        after_answer(canned.send(str(view.get("id", "")), target, filled, user), "canned-send")

    async def press(
        body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        refusal = await actions.on_button(
            action["action_id"], action.get("value", ""), operator_of(context)
        )
        if refusal:
            where = root_button_target(body)
            await tell(where.channel, context.user_id or "", where.thread_ts, refusal)

    for action_id in BUTTON_ACTIONS:

        @app.action(action_id, middleware=operators_only_on(root_button_target))
        async def on_button(
            ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext
        ) -> None:
            await ack()
            after_answer(press(body, action, context), f"button-{action['action_id']}")

    return app


# What the operator gate reads off each operator listener's request (operator_middleware.py).


def root_button_target(body: dict[str, Any]) -> GateTarget:
    """A button on a root message (or in its thread): the session is the button's value."""
    action = (body.get("actions") or [{}])[0]
    message = body.get("message") or body.get("container") or {}
    thread_ts = message.get("thread_ts") or message.get("ts") or message.get("message_ts")
    return GateTarget(
        str(action.get("value", "")),
        str((body.get("channel") or {}).get("id", "")),
        str(thread_ts) if thread_ts else None,
    )


def handback_view_target(body: dict[str, Any]) -> GateTarget | None:
    target = handback_form.handback_target(body.get("view") or {})
    return GateTarget(target.session_id, target.channel, target.thread_ts) if target else None


def resolve_view_target(body: dict[str, Any]) -> GateTarget | None:
    target = resolve_form.resolve_target(body.get("view") or {})
    return GateTarget(target.session_id, target.channel, target.thread_ts) if target else None


def draft_view_target(body: dict[str, Any]) -> GateTarget | None:
    edited = draft_message.edited_draft(body.get("view") or {})
    if edited is None:
        return None
    target = edited[0]
    return GateTarget(target.session_id, target.channel, target.thread_ts)
