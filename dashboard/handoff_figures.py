"""The insights page's figures: one row per handoff with its durations and breaches, and
the per-day, per-reason and summary figures drawn from them. Pure: no I/O, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd  # type: ignore[import-untyped]

from dashboard.formats import UNKNOWN_STATUS, parse_time
from dashboard.model import Escalation
from dashboard.timeline import first_claim_time
from handoff.record import handoff_count, read_category
from handoff.sla import SlaSettings, sla_view


def handoff_frame(
    escalations: Iterable[Escalation], sla: SlaSettings | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """One row per handoff with the durations the SLA cares about, in seconds, and its breaches."""
    rows = []
    moment = now or datetime.now(UTC)
    for e in escalations:
        record = e.record
        view = (
            sla_view({"requested_at": e.created.isoformat(), **record}, sla, moment)
            if sla
            else None
        )
        requested = parse_time(record.get("requested_at")) or e.created
        claimed = first_claim_time(record)
        replied = parse_time(record.get("first_human_reply_at"))
        rows.append(
            {
                "session_id": e.session_id,
                "day": pd.Timestamp(requested.date()),
                "reason": str(record.get("reason") or "(none)"),
                "category": read_category(record).label,
                "status": str(record.get("status") or UNKNOWN_STATUS),
                "time_to_claim_s": (claimed - requested).total_seconds() if claimed else None,
                "time_to_first_reply_s": (replied - requested).total_seconds() if replied else None,
                "handoffs": handoff_count(record) if record else 1,
                "returned": bool(record.get("returned_at")),
                "claim_breached": bool(view and view.claim.breached),
                "first_reply_breached": bool(view and view.first_reply.breached),
            }
        )
    columns = [
        "session_id",
        "day",
        "reason",
        "category",
        "status",
        "time_to_claim_s",
        "time_to_first_reply_s",
        "handoffs",
        "returned",
        "claim_breached",
        "first_reply_breached",
    ]
    return pd.DataFrame(rows, columns=columns).astype(
        {
            "time_to_claim_s": "float64",
            "time_to_first_reply_s": "float64",
            "returned": "bool",
            "claim_breached": "bool",
            "first_reply_breached": "bool",
        }
    )


BREACH_COLUMNS = {"claim_breached": "claim", "first_reply_breached": "first reply"}


def breaches_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Breached claim and first-reply targets per day of handoff, every day in the range shown."""
    if frame.empty:
        return pd.DataFrame(
            {name: [] for name in BREACH_COLUMNS.values()}, index=pd.DatetimeIndex([], name="day")
        )
    counts = frame.groupby("day")[list(BREACH_COLUMNS)].sum().rename(columns=BREACH_COLUMNS)
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="day")
    return counts.reindex(days, fill_value=0).astype("int64")


def breaches_per_reason(frame: pd.DataFrame, top: int = 12, by: str = "reason") -> pd.DataFrame:
    """Breaches for the reasons (or categories, `by`) with most of them; those without a
    breach are left out."""
    if frame.empty:
        return pd.DataFrame(
            {name: [] for name in BREACH_COLUMNS.values()}, index=pd.Index([], name=by)
        )
    counts = (
        frame.groupby(by)[list(BREACH_COLUMNS)].sum().rename(columns=BREACH_COLUMNS).astype("int64")
    )
    counts = counts[counts.sum(axis=1) > 0]
    return counts.loc[counts.sum(axis=1).sort_values(ascending=False).index].head(top)


def handoffs_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame({"handoffs": []}, index=pd.DatetimeIndex([], name="day"))
    counts = frame.groupby("day").size().rename("handoffs")
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D", name="day")
    return counts.reindex(days, fill_value=0).to_frame()


def handoffs_per_reason(frame: pd.DataFrame, top: int = 12, by: str = "reason") -> pd.DataFrame:
    """Handoffs and how many went back to the AI, for the most frequent reasons (or
    categories, `by="category"`: free-text reasons rarely repeat)."""
    if frame.empty:
        return pd.DataFrame({"handoffs": [], "returned": []}, index=pd.Index([], name=by))
    grouped = frame.groupby(by).agg(handoffs=("session_id", "size"), returned=("returned", "sum"))
    return grouped.sort_values("handoffs", ascending=False).head(top)


def response_times_per_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Median and p90 time to claim and to first human reply per day, in minutes."""
    columns = {
        "claim median": ("time_to_claim_s", 0.5),
        "claim p90": ("time_to_claim_s", 0.9),
        "first reply median": ("time_to_first_reply_s", 0.5),
        "first reply p90": ("time_to_first_reply_s", 0.9),
    }
    if frame.empty:
        return pd.DataFrame(columns=list(columns), index=pd.DatetimeIndex([], name="day"))
    by_day = frame.groupby("day")
    return pd.DataFrame(
        {name: by_day[column].quantile(q) / 60 for name, (column, q) in columns.items()}
    )


@dataclass(frozen=True)
class HandoffSummary:
    handoffs: int
    claim_median_s: float | None
    claim_p90_s: float | None
    reply_median_s: float | None
    reply_p90_s: float | None
    return_rate: float | None
    claim_breaches: int = 0
    first_reply_breaches: int = 0
    sessions: int = 0


def _quantile(series: pd.Series, q: float) -> float | None:
    values = series.dropna()
    return float(values.quantile(q)) if not values.empty else None


def handoff_summary(frame: pd.DataFrame) -> HandoffSummary:
    return HandoffSummary(
        # Every handoff, a session handed off again after a return counted each time.
        handoffs=int(frame["handoffs"].sum()),
        sessions=len(frame),
        claim_median_s=_quantile(frame["time_to_claim_s"], 0.5),
        claim_p90_s=_quantile(frame["time_to_claim_s"], 0.9),
        reply_median_s=_quantile(frame["time_to_first_reply_s"], 0.5),
        reply_p90_s=_quantile(frame["time_to_first_reply_s"], 0.9),
        return_rate=float(frame["returned"].mean()) if len(frame) else None,
        claim_breaches=int(frame["claim_breached"].sum()),
        first_reply_breaches=int(frame["first_reply_breached"].sum()),
    )
