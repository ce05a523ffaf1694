"""The bridge's Prometheus metrics (served at /metrics by slack_bridge/health.py).

Counters and histograms are updated where things happen (one call each, in slack_api, mirror,
inbound and sla_notices); gauges that describe stored state (the outbox) are read from the
store when Prometheus scrapes. One registry per process, with the process collector (CPU,
memory, open files). docs/operations.md lists every metric and example alert rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from slack_kit.slack_api import SlackOutcome

CONTENT_TYPE = CONTENT_TYPE_LATEST


# From a few milliseconds (a relay on one machine) to minutes (Slack rate limits, outages).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

SLACK_CALLS = Counter(
    "bridge_slack_calls",
    "Slack Web API calls by method and outcome (rate_limited: a 429, waited out and retried).",
    ["method", "outcome"],
    registry=REGISTRY,
)
MIRROR_LAG = Histogram(
    "bridge_mirror_lag_seconds",
    "From a message stored in Parlant to its post accepted by Slack (customer -> thread).",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
RELAY_LATENCY = Histogram(
    "bridge_relay_latency_seconds",
    "From an operator's reply reaching Slack (its ts) to the reply stored in Parlant.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SLA_NOTICES = Counter(
    "bridge_sla_notices",
    "SLA notices posted: reminder (claim target passed) and breach notices per clock.",
    ["kind"],
    registry=REGISTRY,
)
LONG_POLLS = Gauge(
    "bridge_long_polls_open",
    "Long polls the bridge holds open on Parlant (one per mirrored session while it waits).",
    registry=REGISTRY,
)
MIRRORS = Gauge(
    "bridge_mirrors_active",
    "Escalated sessions whose messages the bridge is mirroring into Slack.",
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "bridge_outbox_pending",
    "Operator replies accepted from Slack and not yet stored in Parlant.",
    registry=REGISTRY,
)
OUTBOX_AGE = Gauge(
    "bridge_outbox_oldest_age_seconds",
    "Age of the oldest reply still waiting in the outbox (0 when it is empty).",
    registry=REGISTRY,
)


CHANNEL_BACKLOG = Gauge(
    "bridge_channel_backlog",
    "Customer-side messages waiting to be posted into a channel's threads (this replica's).",
    ["channel"],
    registry=REGISTRY,
)
CHANNEL_OLDEST_WAIT = Gauge(
    "bridge_channel_oldest_wait_seconds",
    "How long the oldest message waiting for a channel has waited since Parlant stored it.",
    ["channel"],
    registry=REGISTRY,
)
REACTIONS_SKIPPED = Counter(
    "bridge_delivered_reactions_skipped",
    "✅ left off delivered replies because reactions.add's per-workspace allowance was spent.",
    registry=REGISTRY,
)


DRAFTS_OFFERED = Counter(
    "bridge_drafts_offered",
    "Drafts of the agent's answer posted under customer messages (slack_bridge/drafts.py).",
    registry=REGISTRY,
)
DRAFTS_DECIDED = Counter(
    "bridge_drafts_decided",
    "Drafts an operator sent as is, edited and sent, or dismissed.",
    ["outcome"],
    registry=REGISTRY,
)
CANNED_REPLIES = Counter(
    "bridge_canned_replies",
    "Canned replies operators chose in Slack: queued for the customer, or refused in the form "
    "(a value missing for the customer, not with a person, not an operator, the agent silent).",
    ["outcome"],
    registry=REGISTRY,
)


def draft_offered() -> None:
    DRAFTS_OFFERED.inc()


def draft_decided(outcome: str) -> None:
    DRAFTS_DECIDED.labels(outcome=outcome).inc()


def canned_reply(outcome: str) -> None:
    CANNED_REPLIES.labels(outcome=outcome).inc()


def reaction_skipped() -> None:
    REACTIONS_SKIPPED.inc()


def slack_call(method: str, outcome: SlackOutcome) -> None:
    SLACK_CALLS.labels(method=method, outcome=outcome).inc()


def mirror_posted(stored_at: datetime | None) -> None:
    if stored_at is not None:
        MIRROR_LAG.observe(max(0.0, _now() - _epoch(stored_at)))


def reply_relayed(slack_ts: str) -> None:
    try:
        sent_at = float(slack_ts)  # a Slack ts is the epoch second it was received
    except ValueError:
        return
    RELAY_LATENCY.observe(max(0.0, _now() - sent_at))


def sla_notice_posted(kind: str) -> None:
    SLA_NOTICES.labels(kind=kind).inc()


@contextmanager
def long_poll() -> Iterator[None]:
    LONG_POLLS.inc()
    try:
        yield
    finally:
        LONG_POLLS.dec()


def set_outbox(pending: int, oldest: datetime | None) -> None:
    OUTBOX_PENDING.set(pending)
    OUTBOX_AGE.set(0.0 if oldest is None else max(0.0, _now() - _epoch(oldest)))


def set_mirrors(active: int) -> None:
    MIRRORS.set(active)


_BACKLOG_CHANNELS: set[str] = set()


def set_backlog(channels: dict[str, tuple[int, datetime | None]]) -> None:
    """Per channel; a channel that had a backlog and has none now shows 0."""
    for channel in _BACKLOG_CHANNELS - channels.keys():
        CHANNEL_BACKLOG.labels(channel=channel).set(0)
        CHANNEL_OLDEST_WAIT.labels(channel=channel).set(0)
    _BACKLOG_CHANNELS.update(channels)
    for channel, (count, oldest) in channels.items():
        CHANNEL_BACKLOG.labels(channel=channel).set(count)
        CHANNEL_OLDEST_WAIT.labels(channel=channel).set(
            0.0 if oldest is None else max(0.0, _now() - _epoch(oldest))
        )


def render() -> bytes:
    return generate_latest(REGISTRY)


def _now() -> float:
    return time.time()


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
