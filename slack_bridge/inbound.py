"""Slack → Parlant: operator replies in escalation threads, delivered to the session once.

Every accepted reply is first written to the durable outbox, then delivered in Slack's order
per session: a reply waits a short settling window after it reaches the bridge, so a reply
written earlier in Slack but delivered to the bridge a moment later still goes first. A reply
whose event went to another replica that died before storing it is re-sent by Slack only
after 3 s: when another replica has gone silent (slack_bridge/replica_watch.py), the thread's
history is read before delivering, and an earlier reply missing from the outbox is taken in
from it and delivered first. One later than that (a straggler) is still delivered once, and
the thread is told it arrived out of order. The operator sees the outcome on the message itself: ✅ once Parlant stored it,
⏳ and a thread note while Parlant is unreachable (the reply waits in the outbox), ⚠️ and a
reason when it was refused.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from parlant.client.core.api_error import ApiError

from config.crash_points import crash_point
from handoff import actions
from handoff.operator_api import AsyncOperatorClient
from handoff.record import HandoffNotActive
from slack_bridge import metrics, notices
from slack_bridge.feedback import FAILED, HELD, PENDING, Feedback
from slack_bridge.operators import DisplayNames, OperatorGate, parse_reply, slack_operator
from slack_bridge.replica_watch import history_window
from slack_bridge.slack_text import plain_text
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore, OutboxReply, ThreadLink
from slack_kit import metadata
from slack_kit.settings import SlackSettings
from slack_kit.slack_api import SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

ACCEPTED_SUBTYPES = (None, "thread_broadcast", "file_share")


class ParlantUnreachable(Exception):
    pass


class SilentReplicas(Protocol):
    """What Inbound needs from slack_bridge/replica_watch.py."""

    async def silent_since(self, accepted_at: datetime) -> list[float]: ...


class NoOtherReplicas:
    """One bridge on its own state file: no other replica can swallow an event."""

    async def silent_since(self, accepted_at: datetime) -> list[float]:
        return []


# A window of the thread's history is seconds long: a page holds it.
HISTORY_PAGE = 200
# Storing a message event: tries, and the wait between them (all well inside Slack's 3 s).
STORE_ATTEMPTS = 3
STORE_RETRY_S = 0.3
# How soon a settled reply looks again while an earlier one of its thread is being taken in.
ARRIVING_RECHECK_S = 0.1


def _ts(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class RootRefresher(Protocol):
    """What Inbound needs from the root messages: a rewrite after a reply changed the record
    (the first reply stops the first-reply SLA clock)."""

    async def refresh_session(self, session_id: str) -> None: ...


class Inbound:
    def __init__(
        self,
        slack: SlackSettings,
        parlant: AsyncOperatorClient,
        caller: SlackCaller,
        store: BridgeStore,
        names: DisplayNames,
        gate: OperatorGate,
        feedback: Feedback,
        roots: RootRefresher,
        settle_s: float = 0.7,
        replicas: SilentReplicas | None = None,
    ) -> None:
        self._slack = slack
        self._parlant = parlant
        self._caller = caller
        self._store = store
        self._names = names
        self._gate = gate
        self._feedback = feedback
        self._roots = roots
        self._session_locks: dict[str, asyncio.Lock] = {}
        self._settle_s = settle_s
        self._replicas = replicas or NoOtherReplicas()
        # Per session, the Slack ts up to which its thread's history was read for replies
        # that a silent replica swallowed (`_read_thread_for_swallowed`); replies up to it need not
        # settle: Slack showed every earlier one.
        self._history_read_to: dict[str, float] = {}
        # One pending wake-up per session whose oldest reply is still settling.
        self._wakeups: dict[str, asyncio.Task[None]] = {}
        # Deliveries started by a reply just stored (held here so none is collected mid-way).
        self._delivering: set[asyncio.Task[None]] = set()
        # Sessions whose root rewrite after a reply is pending (`_refresh_root_soon`).
        self._refreshing: set[str] = set()
        # Per thread (channel, thread_ts), the Slack ts of the messages this replica is taking
        # in right now (`on_message`), not yet in the outbox.
        self._arriving: dict[tuple[str, str], list[float]] = {}

    async def on_message(self, event: dict[str, Any], event_id: str | None) -> None:
        """Take a message event in (an operator's reply into the outbox). A state store that
        fails under it (a connection cut mid-statement) is tried again at once, within Slack's
        wait for the acknowledgement: unacknowledged, Slack sends it again only after 3 s, and
        a reply written after it would reach the customer first (the chaos run's cut
        connections). Still failing, it raises: Slack is not acknowledged and sends it again."""
        thread = (str(event.get("channel", "")), str(event.get("thread_ts") or ""))
        arriving = self._arriving.setdefault(thread, [])
        ts = _ts(event.get("ts"))
        arriving.append(ts)
        try:
            await self._take_in_retrying(event, event_id)
        finally:
            arriving.remove(ts)
            if not arriving:
                self._arriving.pop(thread, None)

    async def _take_in_retrying(self, event: dict[str, Any], event_id: str | None) -> None:
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                await self._take_in(event, event_id)
                return
            except STORE_UNAVAILABLE as error:
                if attempt == STORE_ATTEMPTS:
                    raise
                log.warning(
                    "storing a slack message failed, trying again channel=%s slack_ts=%s: %r",
                    event.get("channel"),
                    event.get("ts"),
                    error,
                )
                await asyncio.sleep(STORE_RETRY_S)

    async def _take_in(self, event: dict[str, Any], event_id: str | None) -> None:
        channel = str(event.get("channel", ""))
        subtype = event.get("subtype")
        routed = channel in self._slack.routes.channels
        if subtype in ("message_changed", "message_deleted"):
            await self._explain_edit(event)
            return
        if event.get("bot_id") or subtype not in ACCEPTED_SUBTYPES:
            return
        ts = str(event.get("ts", ""))
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == ts:
            return  # top-level chatter in the channel, not a reply to an escalation
        link = await self.thread_link(channel, str(thread_ts))
        if link is None:
            log.log(
                logging.INFO if routed else logging.DEBUG,
                "reply in a thread with no escalation channel=%s thread_ts=%s",
                channel,
                thread_ts,
            )
            return
        keys = [f"msg:{channel}:{ts}"] + ([f"event:{event_id}"] if event_id else [])
        if not await self._store.first_sighting(*keys):
            if await self._store.reply_queued(channel, ts):
                log.info(
                    "duplicate delivery ignored channel=%s slack_ts=%s event=%s",
                    channel,
                    ts,
                    event_id,
                )
                return
            # Seen, but not in the outbox: the replica that saw it first died or lost its
            # database between the two (and so never acknowledged it: this is Slack's retry),
            # or is still storing it. Handled again; the outbox stores one row per (channel, ts).
            log.warning(
                "reply seen but not stored; handling it again channel=%s slack_ts=%s event=%s",
                channel,
                ts,
                event_id,
            )
        user = str(event.get("user", ""))
        # A reply answered without the outbox (refused, empty) is answered once: a message
        # handled again above (seen, not queued) finds its answer's key taken.
        if not await self._gate.is_operator(user):
            if await self._store.first_sighting(f"refused:{channel}:{ts}"):
                await self._feedback.tell(
                    channel, user, str(thread_ts), notices.operator_not_allowed()
                )
                await self._feedback.react(channel, ts, FAILED)
            log.info("reply refused: user=%s not an operator session=%s", user, link.session_id)
            return
        kind, text = parse_reply(plain_text(str(event.get("text", ""))))
        if not text:
            if await self._store.first_sighting(f"empty:{channel}:{ts}"):
                await self._feedback.thread_note(
                    channel, str(thread_ts), notices.empty_reply_not_sent()
                )
            log.info("empty reply not sent session=%s slack_ts=%s", link.session_id, ts)
            return
        reply = await self._store.enqueue_reply(
            link.session_id,
            channel,
            ts,
            str(thread_ts),
            user,
            await self._names.name_of(user),
            kind,
            text,
        )
        log.info(
            "operator reply queued session=%s slack_ts=%s kind=%s user=%s",
            link.session_id,
            ts,
            kind,
            user,
        )
        # Stored: Slack may be answered now (slack_bridge/app.py). Delivering to Parlant can
        # take longer than Slack waits for its answer, so it goes on without holding it.
        self._deliver_soon(reply.session_id)

    async def queue_draft(
        self,
        session_id: str,
        channel: str,
        draft_ts: str,
        thread_ts: str,
        user: str,
        name: str,
        text: str,
    ) -> bool:
        """An operator (past the operator gate: slack_bridge/operator_middleware.py) sends the
        agent's draft (slack_bridge/drafts.py) as the AI: one outbox row per draft post, whoever
        clicks and however often, delivered like any reply (and checked like any `ai:` reply).
        Returns whether this was the draft's first send."""
        first = await self._store.first_sighting(f"draft:{channel}:{draft_ts}")
        # Queued whatever `first` says: a click retried after a crash between the two still
        # sends it; the row's key keeps it to one.
        await self._store.enqueue_reply(
            session_id,
            channel,
            draft_ts,
            thread_ts,
            user,
            name,
            "draft",
            text,
        )
        if first:
            log.info("draft queued session=%s slack_ts=%s user=%s", session_id, draft_ts, user)
        self._deliver_soon(session_id)
        return first

    async def queue_canned(
        self, session_id: str, channel: str, post_ts: str, thread_ts: str, user: str, text: str
    ) -> None:
        """A canned reply (slack_bridge/canned.py), filled and posted into the thread: sent as
        the operator's own message, keyed on that post, delivered like any reply."""
        await self._store.enqueue_reply(
            session_id,
            channel,
            post_ts,
            thread_ts,
            user,
            await self._names.name_of(user),
            "human",
            text,
        )
        log.info("canned reply queued session=%s slack_ts=%s user=%s", session_id, post_ts, user)
        self._deliver_soon(session_id)

    def _refresh_root_soon(self, session_id: str) -> None:
        """The root's rewrite after a reply (a claim, the first reply) waits its turn in
        chat.update's allowance shared by every replica: minutes on a busy morning. Not in the
        delivery path, where the session's next replies would wait behind it (the busy-hour
        bench's replies took 7 minutes to reach customers so)."""
        if session_id in self._refreshing:
            return  # one pending rewrite shows the latest record anyway
        self._refreshing.add(session_id)
        task = asyncio.create_task(self._refresh_root(session_id), name=f"root-{session_id}")
        self._delivering.add(task)
        task.add_done_callback(self._delivering.discard)

    async def _refresh_root(self, session_id: str) -> None:
        try:
            await self._roots.refresh_session(session_id)
        except Exception:
            log.exception("root refresh after a reply failed session=%s", session_id)
        finally:
            self._refreshing.discard(session_id)

    def _deliver_soon(self, session_id: str) -> None:
        task = asyncio.create_task(self._deliver_now(session_id), name=f"reply-{session_id}")
        self._delivering.add(task)
        task.add_done_callback(self._delivering.discard)

    async def _deliver_now(self, session_id: str) -> None:
        try:
            await self.deliver_pending(session_id)
        except Exception:
            # The reply is in the outbox: the outbox loop delivers it on its next round.
            log.exception("delivering a stored reply failed session=%s", session_id)

    async def thread_link(self, channel: str, thread_ts: str) -> ThreadLink | None:
        """The escalation a thread belongs to: from the store, or (a thread not linked yet, in
        an escalation channel) its root message's metadata. Other channels are not ignored
        outright: a thread linked earlier stays answerable in a channel later dropped from
        SLACK_ROUTES (its link is in the store)."""
        link = await self._store.session_for_thread(channel, thread_ts)
        if link is None and channel in self._slack.routes.channels:
            link = await self._link_from_root(channel, thread_ts)
        return link

    async def _link_from_root(self, channel: str, thread_ts: str) -> ThreadLink | None:
        """A thread the bridge has not linked yet (the handoff tool just posted it): the root
        message's metadata names its session."""
        try:
            page = await self._caller.call(
                "conversations.replies",
                channel=channel,
                ts=thread_ts,
                limit=1,
                include_all_metadata=True,
            )
        except (SlackUnavailable, SlackRejected) as error:
            log.error(
                "cannot read thread root channel=%s thread_ts=%s: %s", channel, thread_ts, error
            )
            return None
        for message in page.get("messages", [])[:1]:
            session_id = metadata.root_session(message)
            if session_id:
                await self._store.link_thread(session_id, channel, thread_ts)
                return ThreadLink(session_id, channel, thread_ts)
        return None

    async def deliver_pending(self, session_id: str | None = None) -> None:
        """Deliver queued replies in Slack's order; stop at the first one Parlant cannot take."""
        sessions = (
            [session_id]
            if session_id
            else sorted({r.session_id for r in await self._store.pending_replies()})
        )
        for sid in sessions:
            lock = self._session_locks.setdefault(sid, asyncio.Lock())
            # The lock orders this process's tasks; the turn, other bridge replicas: one of
            # them at a time delivers a session's replies, so none goes twice or out of order.
            async with lock, self._store.outbox_turn(sid) as our_turn:
                if not our_turn:
                    continue  # another replica is delivering them; the outbox loop re-checks
                # Again while the queue was emptied: a reply another replica took in meanwhile
                # skipped this session (our turn), so it is delivered now rather than next round.
                while await self._deliver_queue(sid):
                    pass

    async def _deliver_queue(self, session_id: str) -> bool:
        """Deliver the session's oldest pending reply; True if it was delivered (the caller
        reads the queue again for the next), False if there is none or it must wait
        (settling, or Parlant unreachable). One at a time: a reply taken in while an earlier
        one was being delivered (a slow Parlant) may be older than the rest of a list read
        before it, and went out after them (chaos seeds 3 and 4)."""
        pending = await self._store.pending_replies(session_id)
        if not pending:
            return False
        reply = pending[0]
        waiting = self._settling_left(reply)
        if waiting > 0:
            # Later replies wait behind it: Slack's order, not arrival order.
            self._wake_later(session_id, waiting)
            return False
        if reply.kind != "draft" and any(
            ts < float(reply.ts) for ts in self._arriving.get((reply.channel, reply.thread_ts), ())
        ):
            # An earlier message of the thread is still being taken in here (its writer's name
            # looked up in Slack, say): it goes first, however long that takes past the window.
            self._wake_later(session_id, ARRIVING_RECHECK_S)
            return False
        if await self._read_thread_for_swallowed(reply):
            # The queue may hold an earlier reply now (taken in from the history, or Slack's
            # own re-send while the history was read): read it again, in order.
            return True
        try:
            await self._deliver(reply)
        except ParlantUnreachable as error:
            await self._store.reply_attempted(reply.id, str(error))
            await self._mark_waiting(reply)
            return False
        return True

    def _settling_left(self, reply: OutboxReply) -> float:
        if float(reply.ts) <= self._history_read_to.get(reply.session_id, 0.0):
            return 0.0
        age = (datetime.now(UTC) - reply.accepted_at).total_seconds()
        return self._settle_s - age

    async def _read_thread_for_swallowed(self, reply: OutboxReply) -> bool:
        """Whether the thread's history was read now, taking in any reply missing from the
        outbox because its event went to a replica that went silent (died) before storing it.
        Read only while another replica is silent, for the seconds it could have swallowed
        (replica_watch.history_window), and up to the present: every later reply up to the
        newest message read needs no read of its own (a backlog delivered after a fault read
        the thread once per reply, and Slack answered most of those reads 429)."""
        if reply.kind == "draft":
            return False  # sent when clicked, not in the thread's order
        silent = await self._replicas.silent_since(reply.accepted_at)
        read_to = self._history_read_to.get(reply.session_id)
        window = history_window(float(reply.ts), read_to, silent)
        if window is None:
            return False
        try:
            page = await self._caller.call(
                "conversations.replies",
                channel=reply.channel,
                ts=reply.thread_ts,
                oldest=f"{window[0]:.6f}",
                inclusive=False,
                limit=HISTORY_PAGE,
            )
        except (SlackUnavailable, SlackRejected) as error:
            # Delivered as before: a reply re-sent by Slack later is the documented straggler.
            log.warning(
                "thread history not read for replies a silent replica held session=%s: %s",
                reply.session_id,
                error,
            )
            return False
        messages = [
            m for m in page.get("messages", []) if m.get("ts") and m["ts"] != reply.thread_ts
        ]
        seen = [float(m["ts"]) for m in messages]
        # A full page may have stopped short of the present: known only up to its last post.
        boundary = max(seen, default=0.0)
        if len(page.get("messages", [])) < HISTORY_PAGE:
            boundary = max(boundary, float(reply.ts))
        self._history_read_to[reply.session_id] = max(read_to or 0.0, boundary)
        log.info(
            "thread history read before a reply, %d replica(s) silent session=%s slack_ts=%s",
            len(silent),
            reply.session_id,
            reply.ts,
        )
        for message in messages:
            ts = str(message["ts"])
            if message.get("bot_id") or await self._store.reply_queued(reply.channel, ts):
                continue
            log.warning(
                "reply taken in from the thread's history while a replica is silent"
                " session=%s slack_ts=%s",
                reply.session_id,
                ts,
            )
            await self.on_message({**message, "channel": reply.channel}, None)
        return True

    def _wake_later(self, session_id: str, delay: float) -> None:
        # An earlier wake-up re-checks the queue and schedules the next one itself.
        if session_id not in self._wakeups:
            self._wakeups[session_id] = asyncio.create_task(self._deliver_later(session_id, delay))

    async def _deliver_later(self, session_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._wakeups.pop(session_id, None)
        try:
            await self.deliver_pending(session_id)
        except Exception:
            # The outbox loop retries; a wake-up must not die silently.
            log.exception("delivering settled replies failed session=%s", session_id)

    async def _deliver(self, reply: OutboxReply) -> None:
        operator = slack_operator(reply.user_id, reply.user_name)
        origin = {
            "slack": {
                "channel": reply.channel,
                "ts": reply.ts,
                "thread_ts": reply.thread_ts,
                "user": reply.user_id,
            }
        }
        try:
            if reply.attempts and (existing := await self._stored_event(reply)):
                event_id = existing  # an earlier attempt landed but its answer was lost
            else:
                await self._store.reply_sending(reply.id)
                crash_point("outbox.before_send")
                if reply.kind in ("ai", "draft"):
                    # Checked by the agent first (agent/ai_reply_rules.py): ReplyHeld below.
                    sent = await actions.send_as_ai(
                        self._parlant,
                        reply.session_id,
                        operator,
                        reply.text,
                        origin,
                        override=reply.override or None,
                    )
                else:
                    send = actions.SEND_BY_KIND[reply.kind]
                    sent = await send(self._parlant, reply.session_id, operator, reply.text, origin)
                event_id = sent.id
                crash_point("outbox.after_send")
        except actions.ReplyHeld as held:
            await self._store.reply_held(reply.id, held.rule)
            await self._feedback.react(reply.channel, reply.ts, HELD)
            text, blocks = notices.reply_held(held.why, reply.id)
            await self._feedback.tell(
                reply.channel, reply.user_id, reply.thread_ts, text, blocks=blocks
            )
            log.info(
                "reply held session=%s slack_ts=%s rule=%s", reply.session_id, reply.ts, held.rule
            )
            return
        except HandoffNotActive as refusal:
            await self._store.reply_finished(reply.id, "rejected")
            await self._feedback.react(reply.channel, reply.ts, FAILED)
            await self._feedback.tell(
                reply.channel,
                reply.user_id,
                reply.thread_ts,
                notices.session_not_with_human(refusal.status or "none"),
                take_over_session=reply.session_id,
            )
            log.info(
                "reply refused session=%s slack_ts=%s status=%s",
                reply.session_id,
                reply.ts,
                refusal.status,
            )
            return
        except ApiError as error:
            if error.status_code is None or error.status_code >= 500:
                raise ParlantUnreachable(f"Parlant answered {error.status_code}") from error
            await self._store.reply_finished(reply.id, "rejected")
            await self._feedback.react(reply.channel, reply.ts, FAILED)
            await self._feedback.thread_note(
                reply.channel,
                reply.thread_ts,
                notices.delivery_failed(f"Parlant refused it ({error.status_code})"),
            )
            log.warning(
                "reply refused by parlant session=%s slack_ts=%s: %s",
                reply.session_id,
                reply.ts,
                error,
            )
            return
        except (httpx.TransportError, OSError) as error:
            raise ParlantUnreachable(repr(error)) from error
        late = await self._store.delivered_after(reply.session_id, reply.ts)
        # ✅ before the outbox says delivered: a crash in between leaves the reply pending with
        # an attempt counted, so the next round finds the stored event, reacts again (Slack
        # answers already_reacted) and records it. The other order would lose the ✅.
        crash_point("outbox.before_reaction")
        await self._feedback.delivered(reply.channel, reply.ts)
        if reply.pending_notified:
            await self._feedback.unreact(reply.channel, reply.ts, PENDING)
        crash_point("outbox.after_reaction")
        await self._store.reply_finished(reply.id, "delivered", event_id)
        metrics.reply_relayed(reply.ts)
        log.info(
            "reply delivered session=%s slack_ts=%s event=%s", reply.session_id, reply.ts, event_id
        )
        if reply.held_rule:
            await self._feedback.unreact(reply.channel, reply.ts, HELD)
            await self._feedback.thread_note(
                reply.channel,
                reply.thread_ts,
                notices.sent_despite_rule(reply.user_id, reply.override)
                if reply.override
                else notices.sent_after_edit(reply.user_id, self._slack.masker.mask(reply.text)),
            )
        if late and reply.kind != "draft":  # a draft is sent when clicked, not when posted
            log.warning(
                "reply delivered after a later one session=%s slack_ts=%s",
                reply.session_id,
                reply.ts,
            )
            await self._feedback.thread_note(
                reply.channel, reply.thread_ts, notices.reply_arrived_late(reply.ts)
            )
        self._refresh_root_soon(reply.session_id)

    async def held_for(self, reply_id: int, user_id: str) -> OutboxReply | str:
        """The held reply its own operator may act on, or what to tell whoever clicked."""
        held = await self._store.held_reply(reply_id)
        if held is None:
            return notices.held_reply_gone()
        if held.user_id != user_id:
            return notices.held_reply_not_yours()
        return held

    async def release(
        self, reply_id: int, user_id: str, *, send_anyway: bool = False, text: str | None = None
    ) -> str | None:
        """A held reply sent anyway (recorded with the event, logged, noted in the thread) or
        edited (checked again); what to tell the operator when nothing happened."""
        held = await self.held_for(reply_id, user_id)
        if isinstance(held, str):
            return held
        released = await self._store.release_held(reply_id, send_anyway=send_anyway, text=text)
        if released is None:
            return notices.held_reply_gone()  # a second click, or another replica's
        log.info(
            "held reply released session=%s slack_ts=%s rule=%s by=%s how=%s",
            released.session_id,
            released.ts,
            released.held_rule,
            user_id,
            "sent anyway" if send_anyway else "edited",
        )
        await self.deliver_pending(released.session_id)
        return None

    async def _stored_event(self, reply: OutboxReply) -> str | None:
        events = await self._parlant.sessions.list_events(
            reply.session_id,
            source=actions.SOURCE_BY_KIND["ai" if reply.kind == "draft" else reply.kind],
            wait_for_data=0,
        )
        for event in events:
            slack = (event.metadata or {}).get("slack") or {}
            if slack.get("channel") == reply.channel and slack.get("ts") == reply.ts:
                return str(event.id)
        return None

    async def _mark_waiting(self, reply: OutboxReply) -> None:
        if reply.pending_notified:
            return
        await self._store.reply_pending_notified(reply.id)
        await self._feedback.react(reply.channel, reply.ts, PENDING)
        await self._feedback.thread_note(reply.channel, reply.thread_ts, notices.delivery_pending())
        log.warning(
            "parlant unreachable; reply waits in the outbox session=%s slack_ts=%s",
            reply.session_id,
            reply.ts,
        )

    async def _explain_edit(self, event: dict[str, Any]) -> None:
        changed = event.get("message") or event.get("previous_message") or {}
        thread_ts = changed.get("thread_ts")
        ts = changed.get("ts")
        if not thread_ts or thread_ts == ts or changed.get("bot_id"):
            return
        if await self._store.session_for_thread(str(event["channel"]), str(thread_ts)) is None:
            return
        # One notice per edited or deleted message, however often Slack redelivers it.
        if not await self._store.first_sighting(f"{event['subtype']}:{event['channel']}:{ts}"):
            return
        text = (
            notices.edit_not_propagated()
            if event["subtype"] == "message_changed"
            else notices.delete_not_propagated()
        )
        await self._feedback.thread_note(str(event["channel"]), str(thread_ts), text)
