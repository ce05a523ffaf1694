"""The learning loop's routes over the learned file (agent/learned_file.py), for the dashboard:

- `GET /escalations/learning`: every entry, proposed, accepted and rejected, with its origin.
- `POST /escalations/learning/proposals`: a new proposal (handoff/learned.py `proposal`);
  201 with the entry, 422 saying what to change.
- `POST /escalations/learning/{entry_id}/accept` and `.../reject` with `{"by": {"id", "name"}}`:
  200 with the entry, 404 for an unknown id, 409 when it was decided already.

Accepted entries take effect when the agent next starts (it declares them then). Operator-only
like every /escalations/ path (403 without the operator token).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.authorization import OperatorCheck
from agent.learned_file import LearnedFile, LearnedFileError
from handoff.learned import (
    AlreadyDecided,
    InvalidEntry,
    LearnedEntry,
    Person,
    Status,
    person,
    proposal,
)
from handoff.record import utc_now_iso

log = logging.getLogger(__name__)

PREFIX = "/escalations/learning"
DECISIONS: dict[str, Status] = {"accept": "accepted", "reject": "rejected"}


class UnknownEntry(LookupError):
    pass


class LearningRoute:
    def __init__(self, operator_token: str | None, learned: LearnedFile) -> None:
        self._is_operator = OperatorCheck(operator_token)
        self._learned = learned

    def install(self, app: FastAPI) -> None:
        def refused() -> Response:
            return JSONResponse({"detail": "this needs the operator token"}, status_code=403)

        @app.get(PREFIX, include_in_schema=False)
        async def entries(request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            try:
                found = await asyncio.to_thread(self._learned.entries)
            except LearnedFileError as error:
                return JSONResponse({"detail": str(error)}, status_code=500)
            return JSONResponse({"entries": [e.as_json() for e in found]})

        @app.post(f"{PREFIX}/proposals", include_in_schema=False)
        async def propose(request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            body = await _json(request)
            entry_id = secrets.token_hex(6)
            try:
                entry = proposal(body, entry_id, utc_now_iso())
                await asyncio.to_thread(
                    self._learned.change, lambda entries: ([*entries, entry], None)
                )
            except InvalidEntry as invalid:
                return JSONResponse({"detail": str(invalid)}, status_code=422)
            except LearnedFileError as error:
                return JSONResponse({"detail": str(error)}, status_code=500)
            log.info(
                "learning proposal=%s kind=%s sessions=%d by=%s",
                entry.id,
                entry.kind,
                len(entry.origin.sessions),
                entry.origin.proposed_by.id,
            )
            return JSONResponse(entry.as_json(), status_code=201)

        @app.post(f"{PREFIX}/{{entry_id}}/{{decision}}", include_in_schema=False)
        async def decide(entry_id: str, decision: str, request: Request) -> Response:
            if not self._is_operator(request):
                return refused()
            status = DECISIONS.get(decision)
            if status is None:
                return JSONResponse({"detail": "decide with accept or reject"}, status_code=404)
            body = await _json(request)
            try:
                by = _decider(body)
                entry = await asyncio.to_thread(
                    self._learned.change, lambda entries: _decided(entries, entry_id, status, by)
                )
            except UnknownEntry:
                return JSONResponse({"detail": "no such proposal"}, status_code=404)
            except AlreadyDecided as decided:
                return JSONResponse({"detail": str(decided)}, status_code=409)
            except InvalidEntry as invalid:
                return JSONResponse({"detail": str(invalid)}, status_code=422)
            except LearnedFileError as error:
                return JSONResponse({"detail": str(error)}, status_code=500)
            log.info("learning proposal=%s %s by=%s", entry.id, status, by.id)
            return JSONResponse(entry.as_json())


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _decider(body: Any) -> Person:
    return person(body.get("by") if isinstance(body, dict) else None, "decides")


def _decided(
    entries: list[LearnedEntry], entry_id: str, status: Status, by: Person
) -> tuple[list[LearnedEntry], LearnedEntry]:
    for i, entry in enumerate(entries):
        if entry.id == entry_id:
            changed = entry.decided(status, by, utc_now_iso())
            return [*entries[:i], changed, *entries[i + 1 :]], changed
    raise UnknownEntry(entry_id)
