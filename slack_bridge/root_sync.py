"""The escalation thread's root message: posted once (when the handoff tool could not), and
rewritten in place whenever the handoff record changes (claim, return, resolve) or the SLA
line would read differently (at a coarse step, within the chat.update budget)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from parlant.client import AsyncParlantClient
from parlant.client.core.api_error import ApiError
from parlant.client.types import SessionMetadataUpdateParams

from handoff.actions import is_not_sent_notice, is_page_opening
from handoff.packet import recorded_thread_start, thread_start
from handoff.record import SLACK_LINK_KEY, HandoffRecord, bridge_slack_link, read_record
from handoff.sla import NextChanges, SlaSettings, SlaView, next_changes, sla_view
from slack_bridge.leases import Leases
from slack_bridge.post_once import KeyedPostRecord, post_once
from slack_bridge.store import BridgeStore, ThreadLink
from slack_bridge.update_budget import UpdateBudget
from slack_kit import metadata, pacing, root_message, speakers, text
from slack_kit.masking import Masker
from slack_kit.pacing import MethodBudget
from slack_kit.root_message import RECENT_MESSAGES
from slack_kit.root_rendering import only_sla_changed, rendering_fingerprint
from slack_kit.routing import Routes
from slack_kit.slack_api import SlackCaller, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)

# Root messages whose customer name and "before the handoff" excerpts are kept in memory.
HANDOFF_CONTEXT_CACHE = 5000
# Excerpts are kept masked and cut: the root message shows at most EXCERPT_LIMIT of each.
CACHED_EXCERPT_CHARS = 2 * text.EXCERPT_LIMIT


# A little under Slack's Tier 3 (about 50 a minute per workspace) for every replica together.
UPDATES_PER_MINUTE_SHARED = 45


@dataclass(frozen=True)
class RootPostRecord:
    """The bridge's record of a handoff's root post. A root the handoff tool posted with its
    answer lost (`maybe_posted` in the handoff record) counts as an attempt whose outcome is
    unknown, so it is looked for in the channel first; otherwise only the bridge's own
    unfinished attempts are (conversations.history is Tier 3, one a minute for distributed
    apps)."""

    inner: KeyedPostRecord
    maybe_posted: bool

    @property
    def key(self) -> Hashable:
        return self.inner.key

    async def status(self) -> str | None:
        status = await self.inner.status()
        return "" if status is None and self.maybe_posted else status

    async def attempting(self) -> None:
        await self.inner.attempting()

    async def posted(self, ts: str) -> None:
        await self.inner.posted(ts)


def root_attempt_key(record: HandoffRecord) -> str:
    """The bridge's record of posting this handoff's root (one per handoff, not per session:
    a session handed off again after it was resolved gets a new thread)."""
    return f"root:{record.get('requested_at', '')}"


async def recent_before_handoff(
    parlant: AsyncParlantClient, session_id: str, record: HandoffRecord
) -> tuple[tuple[str, str], ...]:
    """The last messages the handoff turn saw (what the thread mirrors starts after them)."""
    recorded = recorded_thread_start(record)
    events = await parlant.sessions.list_events(
        session_id,
        kinds="message" if recorded is not None else "message,status,tool",
        wait_for_data=0,
    )
    start = thread_start(record, events)
    before = [e for e in events if e.kind == "message" and (start is None or e.offset < start)]
    messages = before[-RECENT_MESSAGES:]
    shown = []
    for event in messages:
        data = event.data or {}
        participant = (data.get("participant") or {}).get("display_name")
        label = speakers.speaker_label(
            event.source,
            participant,
            None,
            None,
            page_opening=is_page_opening(event.metadata),
            not_sent_notice=is_not_sent_notice(event.metadata),
        )
        shown.append((label, str(data.get("message", ""))))
    return tuple(shown)


class RootSync:
    def __init__(
        self,
        parlant: AsyncParlantClient,
        caller: SlackCaller,
        store: BridgeStore,
        routes: Routes,
        dashboard_url: str,
        masker: Masker,
        sla: SlaSettings,
        budget: UpdateBudget,
        leases: Leases,
    ) -> None:
        self._parlant = parlant
        self._leases = leases
        self._caller = caller
        self._store = store
        self._routes = routes
        self._dashboard_url = dashboard_url
        self._masker = masker
        self._sla = sla
        self._budget = budget
        # chat.update's Tier 3 allowance, shared by every replica: status changes wait their
        # turn, SLA-only rewrites go only while nothing waits (each replica's own window above
        # still spreads its SLA rewrites over the minute).
        self._updates = MethodBudget(store, "chat.update", UPDATES_PER_MINUTE_SHARED, 10)
        # (session id, requested_at) -> (customer name, masked excerpts). What came before a
        # handoff never changes, so a rewrite (claim, SLA line) costs no Parlant reads.
        self._handoff_context: OrderedDict[
            tuple[str, str], tuple[str, tuple[tuple[str, str], ...]]
        ] = OrderedDict()

    async def count_root(self, channel: str, ts: str) -> None:
        """The handoff tool posted this root itself: it takes its slot in the channel's
        allowance, which the replicas' own posts share."""
        await self._caller.count_post(channel, ts)

    async def current_record(self, session_id: str) -> HandoffRecord | None:
        """The session's handoff record as Parlant has it now (not as last listed)."""
        return read_record((await self._parlant.sessions.retrieve(session_id)).metadata)

    def sla_of(self, record: HandoffRecord, now: datetime | None = None) -> SlaView | None:
        return sla_view(record, self._sla, now or datetime.now(UTC))

    async def customer_name(self, session: Any) -> str:
        return str((await self._parlant.customers.retrieve(session.customer_id)).name or "")

    async def _context_at_handoff(
        self, session: Any, record: HandoffRecord
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        key = (str(session.id), str(record.get("requested_at", "")))
        cached = self._handoff_context.get(key)
        if cached is not None:
            self._handoff_context.move_to_end(key)
            return cached
        recent = await recent_before_handoff(self._parlant, session.id, record)
        # Masked before cutting, so a cut can never leave part of a card number unmasked.
        excerpts = tuple(
            (label, self._masker.mask(text)[:CACHED_EXCERPT_CHARS]) for label, text in recent
        )
        context = (await self.customer_name(session), excerpts)
        self._handoff_context[key] = context
        if len(self._handoff_context) > HANDOFF_CONTEXT_CACHE:
            self._handoff_context.popitem(last=False)
        return context

    async def _view(
        self, session: Any, record: HandoffRecord, sla: SlaView | None
    ) -> root_message.EscalationView:
        customer_name, recent = await self._context_at_handoff(session, record)
        return root_message.escalation_view(
            session.id,
            customer_name,
            dict(record),
            recent,
            self._dashboard_url,
            masker=self._masker,
            sla=sla,
        )

    async def post_pending(self, session: Any, record: HandoffRecord) -> ThreadLink:
        """Open the thread the handoff tool could not; finds it instead if that post did land."""
        sla = self.sla_of(record)
        channel = self.channel_for(session, record)
        attempt = RootPostRecord(
            KeyedPostRecord(self._store, session.id, root_attempt_key(record), 0),
            maybe_posted=bool((record.get("slack") or {}).get("maybe_posted")),
        )
        posted = await post_once(
            self._caller,
            attempt,
            partial(root_message.find_root_message, self._caller, channel, session.id),
            crash_before="root.before_post",
            crash_after="root.after_post",
            priority=pacing.FIRST,
            channel=channel,
            **root_message.root_message_post(await self._view(session, record, sla)),
        )
        link = await root_message.root_link(self._caller, channel, session.id, posted.ts)
        # What the root shows is `record`: if the record has moved on since (a claim while
        # this was posted), the next refresh sees the difference and draws it.
        drawn = rendering_fingerprint(record, sla)
        link["rendered"] = drawn
        # Under its own key, the record left as it is (handoff/record.py SLACK_LINK_KEY).
        await self._parlant.sessions.update(
            session.id,
            metadata=SessionMetadataUpdateParams(
                set_={SLACK_LINK_KEY: bridge_slack_link(record, link)}
            ),
        )
        await self._store.link_thread(session.id, link["channel"], link["ts"])
        await self._store.set_root_rendering(session.id, drawn)
        return ThreadLink(session.id, link["channel"], link["ts"])

    def channel_for(self, session: Any, record: HandoffRecord) -> str:
        """The channel the handoff tool chose (kept in the record even when its post failed),
        else the route: the same rules the tool applies."""
        chosen = (record.get("slack") or {}).get("channel")
        return chosen or self._routes.route(record, getattr(session, "labels", None) or ())

    def sla_changes(self, record: HandoffRecord, now: datetime) -> NextChanges:
        return next_changes(record, self._sla, now)

    def sla_tick_room(self) -> int:
        return self._budget.sla_room()

    def sla_tick_wait(self, slots: int) -> float:
        return self._budget.seconds_until_room(slots)

    def sla_tick_spacing(self) -> float:
        """Seconds between two slots of chat.update's allowance shared by every replica."""
        return self._updates.interval

    async def refresh(
        self, session: Any, record: HandoffRecord, thread: ThreadLink, sla: SlaView | None = None
    ) -> bool:
        """Rewrite the root message if it shows something else now; False when an SLA-only
        rewrite waits for room in the chat.update budget."""
        sla = sla or self.sla_of(record)
        fingerprint = rendering_fingerprint(record, sla)
        stored = await self._store.root_rendering(session.id)
        if stored == fingerprint:
            return True
        sla_tick = only_sla_changed(stored, fingerprint)
        if sla_tick and not (
            self._budget.sla_room()
            and await self._updates.try_idle()
            and self._budget.try_sla_tick()
        ):
            return False  # the next discovery pass tries again; status changes keep their headroom
        if not sla_tick:
            self._budget.status_change()
            await self._updates.turn()
        text, root_blocks = root_message.render(await self._view(session, record, sla))
        await self._caller.call(
            "chat.update",
            channel=thread.channel,
            ts=thread.ts,
            text=text,
            blocks=root_blocks,
            metadata=metadata.escalation_metadata(session.id),
        )
        await self._store.set_root_rendering(session.id, fingerprint)
        log.info(
            "root message updated session=%s slack_ts=%s status=%s sla=%s",
            session.id,
            thread.ts,
            record.get("status"),
            sla.worst if sla else "none",
        )
        return True

    async def refresh_session(self, session_id: str) -> None:
        """Rewrite a session's root message after an action changed its record here. Only by
        the replica holding the session's lease (taken here if nobody holds it); another
        holder's discovery rewrites it on its next pass."""
        if not await self._leases.acquire([session_id]):
            return
        try:
            session = await self._parlant.sessions.retrieve(session_id)
            record = read_record(session.metadata)
            thread = await self._store.thread_for_session(session_id)
            if record and thread:
                await self.refresh(session, record, thread)
        except (SlackUnavailable, SlackRejected, ApiError, httpx.TransportError) as error:
            log.warning("root refresh failed session=%s: %r", session_id, error)
