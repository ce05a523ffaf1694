"""`GET /escalations/llm-usage?since=YYYY-MM-DD`: what the model endpoint billed per UTC day,
model and kind of request (agent/store/usage_book.py), for the dashboard's token figures.

Operator-only like every /escalations/ path (403 without the operator token); 422 for a `since`
that is not a date; without `since`, the last 30 days.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.authorization import OperatorCheck
from agent.store.usage_book import UsageBook
from handoff.operator_api import LLM_USAGE_PATH

DEFAULT_DAYS = 30


class UsageRoute:
    def __init__(self, operator_token: str | None, book: UsageBook) -> None:
        self._is_operator = OperatorCheck(operator_token)
        self._book = book

    def install(self, app: FastAPI) -> None:
        @app.get(LLM_USAGE_PATH, include_in_schema=False)
        async def llm_usage(request: Request, since: str | None = None) -> Response:
            if not self._is_operator(request):
                return JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            try:
                first = date.fromisoformat(since) if since else None
            except ValueError:
                return JSONResponse({"detail": "since must be a date, YYYY-MM-DD"}, status_code=422)
            if first is None:
                first = datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS)
            rows = await asyncio.to_thread(self._book.since, first.isoformat())
            return JSONResponse({"items": [asdict(r) for r in rows]})
