"""What the AI costs in tokens, for the session page and insights (pure functions).

The agent writes each reply's usage into the reply's metadata under `llm_usage`
(agent/nlp/token_usage.py): the input and output tokens of every generation of the turn, as the LLM
reported them, how many generations and which models; the session page shows it. Insights show
the agent's usage book instead (agent/store/usage_book.py): every request the endpoint
answered, the bill, which no sum of replies reaches (start-up, embeddings, turns without one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from dashboard.model import RawEvent

# agent.nlp.token_usage.USAGE_KEY (not imported: that module loads Parlant's engine).
USAGE_KEY = "llm_usage"
# The offline NLP service's generators and embedders (agent/nlp/offline_nlp.py) name themselves so:
# their figures are estimates for a model that does not exist, and no LLM was asked (34 such
# replies showed as 2 million tokens).
OFFLINE_MODEL_PREFIX = "offline-"
OFFLINE = "offline, no LLM"


def is_offline_model(model: str) -> bool:
    return model.startswith(OFFLINE_MODEL_PREFIX)


@dataclass(frozen=True)
class ReplyTokens:
    input_tokens: int
    output_tokens: int
    generations: int
    models: tuple[str, ...]

    @property
    def offline(self) -> bool:
        """Written by the scripted offline service (no LLM was asked)."""
        return bool(self.models) and all(is_offline_model(m) for m in self.models)


def reply_tokens(metadata: Mapping[str, object] | None) -> ReplyTokens | None:
    usage = (metadata or {}).get(USAGE_KEY)
    if not isinstance(usage, Mapping):
        return None
    try:
        return ReplyTokens(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            generations=int(usage.get("generations") or 0),
            models=tuple(str(m) for m in usage.get("models") or ()),
        )
    except (TypeError, ValueError):
        return None


def is_ai_reply(event: RawEvent) -> bool:
    return event.kind == "message" and event.source == "ai_agent"


def tokens_by_offset(events: Iterable[RawEvent]) -> dict[int, ReplyTokens]:
    """The usage of each AI reply among `events` that has one, by the reply's offset."""
    found = {}
    for event in events:
        tokens = reply_tokens(event.metadata) if is_ai_reply(event) else None
        if tokens is not None:
            found[event.offset] = tokens
    return found


def tokens_caption(tokens: ReplyTokens) -> str:
    if tokens.offline:
        return f"Tokens: {OFFLINE}"
    models = f" · {', '.join(tokens.models)}" if tokens.models else ""
    return (
        f"Tokens: {tokens.input_tokens:,} in · {tokens.output_tokens:,} out · "
        f"{tokens.generations} generations{models}"
    )


def awaiting_usage(events: Sequence[RawEvent], now: datetime, within_s: float = 60) -> int | None:
    """The offset of the earliest recent AI reply still without usage (the agent writes it just
    after the reply), to read again from there; None when there is none."""
    for event in events:
        recent = (now - event.created).total_seconds() < within_s
        if is_ai_reply(event) and recent and reply_tokens(event.metadata) is None:
            return event.offset
    return None


@dataclass(frozen=True)
class BilledUsage:
    """One row of the agent's usage book (agent/store/usage_book.py)."""

    day: date
    model: str
    kind: str
    requests: int
    input_tokens: int
    output_tokens: int


def billed_usage_row(item: Mapping[str, Any]) -> BilledUsage:
    return BilledUsage(
        day=date.fromisoformat(str(item["day"])),
        model=str(item["model"]),
        kind=str(item["kind"]),
        requests=int(item["requests"]),
        input_tokens=int(item["input_tokens"]),
        output_tokens=int(item["output_tokens"]),
    )


def billed_per_day(rows: Iterable[BilledUsage]) -> pd.DataFrame:
    """Input and output tokens and model requests per UTC day, every model and kind; the
    offline service's requests are counted apart and add no tokens."""
    records = [
        {
            "day": r.day,
            "input tokens": 0 if is_offline_model(r.model) else r.input_tokens,
            "output tokens": 0 if is_offline_model(r.model) else r.output_tokens,
            "requests": 0 if is_offline_model(r.model) else r.requests,
            "offline requests": r.requests if is_offline_model(r.model) else 0,
        }
        for r in rows
    ]
    if not records:
        return pd.DataFrame(
            columns=["input tokens", "output tokens", "requests", "offline requests"]
        )
    return pd.DataFrame(records).groupby("day").sum().sort_index()
