"""The bridge's parts wired together and run: discovery, the reply outbox, operator actions.

Each part lives in its own module: discovery (which sessions need attention), feed_follower
(the agent's escalation feed) and mirror (Parlant → Slack), inbound (Slack → Parlant, with the
outbox), operator_actions (buttons and the handback form), root_sync (root messages in step with
records), sla_notices, backlog_watch (what waits per channel), drafts (the agent's draft answers in the
thread), canned (supervisors' saved replies, from a message shortcut); clients builds the clients.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from handoff.operator_api import AsyncOperatorApi, AsyncOperatorClient
from slack_bridge.backlog_watch import BacklogWatch
from slack_bridge.canned import CannedReplies
from slack_bridge.discovery import Discovery
from slack_bridge.drafts import Drafts
from slack_bridge.feed_follower import FeedFollower
from slack_bridge.feedback import Feedback
from slack_bridge.inbound import Inbound
from slack_bridge.leases import Leases
from slack_bridge.mirror import Mirrors
from slack_bridge.operator_actions import OperatorActions
from slack_bridge.operators import DisplayNames, OperatorGate
from slack_bridge.replica_watch import ReplicaWatch
from slack_bridge.root_sync import RootSync
from slack_bridge.settings import BridgeSettings
from slack_bridge.sla_notices import SlaNotices
from slack_bridge.store import STORE_UNAVAILABLE, BridgeStore
from slack_bridge.update_budget import UpdateBudget
from slack_kit.settings import SlackSettings
from slack_kit.slack_api import SlackCaller

log = logging.getLogger(__name__)


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        slack: SlackSettings,
        parlant: AsyncOperatorClient,
        listing_http: httpx.AsyncClient,
        caller: SlackCaller,
        store: BridgeStore,
    ) -> None:
        # Discovery's listing, the feed, drafts and backlog reports have their own connections
        # (longer time-outs, and not queued behind the replies on the actions' pool).
        api = AsyncOperatorApi(listing_http, settings.parlant_url)
        self.leases = Leases(store, settings.replica_id, settings.lease_s)
        self.replica_watch = ReplicaWatch(store, settings.replica_id)
        names = DisplayNames(caller)
        # The one check of who may act from Slack: Inbound asks it of replies, CannedReplies
        # of the canned-reply shortcut (its session comes from the message's thread), the
        # app's operator middleware of buttons and forms.
        self.gate = OperatorGate(slack, store, names)
        feedback = Feedback(caller, store)
        self.roots = RootSync(
            parlant,
            caller,
            store,
            slack.routes,
            settings.dashboard_url,
            slack.masker,
            settings.sla,
            UpdateBudget(),
            self.leases,
        )
        self.mirrors = Mirrors(parlant, caller, store, slack.masker, self.leases.holds)
        sla_notices = SlaNotices(caller, store, slack.supervisor_channel, self.roots.customer_name)
        self.inbound = Inbound(
            slack,
            parlant,
            caller,
            store,
            names,
            self.gate,
            feedback,
            self.roots,
            settings.reply_settle_s,
            self.replica_watch,
        )
        self.actions = OperatorActions(
            parlant, caller, store, self.roots, self.mirrors, feedback, self.leases
        )
        self.discovery = Discovery(
            api,
            store,
            self.roots,
            sla_notices,
            self.mirrors,
            self.actions.handback_lines,
            self.leases,
            settings.discovery_interval_s,
            settings.resync_s,
        )
        self._outbox_retry_s = settings.outbox_retry_s
        self.backlog = BacklogWatch(
            api,
            settings.replica_id,
            self.mirrors,
            caller,
            store,
            slack,
        )
        self.drafts = Drafts(
            api,
            parlant,
            caller,
            store,
            slack.masker,
            self.inbound,
            settings.drafts,
            self.backlog.behind,
        )
        self.mirrors.customer_posted = self.drafts.customer_wrote
        self.canned = CannedReplies(
            listing_http,
            settings.parlant_url,
            caller,
            store,
            slack.masker,
            self.inbound,
            self.gate,
            self.actions,
        )
        self.feed = FeedFollower(
            api,
            store,
            settings.replica_id,
            self.mirrors,
            self.discovery.nudge,
        )
        # A session whose lease this replica lost: its mirror stops at once, and discovery
        # looks at it afresh (to take it back if the lease comes free again).
        self.leases.on_lost(self.mirrors.unfollow)
        self.leases.on_lost(self.discovery.forget)
        # Whoever holds a lease mirrors: a lease taken by any path starts the session's mirror.
        self.leases.on_taken(self.discovery.taken)
        # A mirror that stopped by itself (an error) is started again by the next pass.
        self.mirrors.on_ended(self.discovery.forget)

    async def run(self) -> None:
        await asyncio.gather(
            self.discovery.run(),
            self.feed.run(),
            self._outbox_loop(),
            self.leases.run(),
            self.backlog.run(),
            self.replica_watch.run(),
        )

    async def _outbox_loop(self) -> None:
        while True:
            await asyncio.sleep(self._outbox_retry_s)
            try:
                await self.inbound.deliver_pending()
            except STORE_UNAVAILABLE as error:
                log.warning("outbox: state store unreachable: %r", error)

    async def stop(self) -> None:
        """A clean stop: the mirrors end and the leases are given up, so another replica takes
        the sessions over on its next discovery pass instead of after the lease time."""
        await self.mirrors.stop()
        try:
            await self.feed.save()
        except Exception as error:  # the next start resumes from the last saved position
            log.warning("feed cursor not saved on stop: %r", error)
        try:
            await self.leases.release_all()
        except Exception as error:  # they expire by themselves
            log.warning("leases not released on stop: %r", error)
        try:
            await self.replica_watch.stop()
        except Exception as error:  # forgotten by the others after a while
            log.warning("replica heartbeat not removed on stop: %r", error)
