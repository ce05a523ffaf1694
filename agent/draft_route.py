"""`POST /escalations/{session_id}/draft`: the reply the agent would give now (agent/drafts.py).

For the bridge, which shows it in the handoff's thread for the operator to send, edit or
dismiss. Answers 200 `{"draft": str, "tools": [names]}`, 204 when the turn gave no message
(nothing of the customer's waits for an answer, the model failed or took longer than
AI_TURN_TIMEOUT_SECONDS), 404 for an unknown session, 409 when the session is not with a
person (the AI answers it itself), 403 without the operator token, 503 while starting.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.drafts import draft_reply
from agent.operator_session_route import OperatorSessionRoute
from handoff.operator_api import DRAFT_PATH
from handoff.record import ACTIVE_STATUSES, read_record

log = logging.getLogger(__name__)


class DraftRoute(OperatorSessionRoute):
    def __init__(self, operator_token: str | None, timeout_s: float) -> None:
        super().__init__(operator_token)
        self._timeout_s = timeout_s

    def install(self, app: FastAPI) -> None:
        @app.post(DRAFT_PATH, include_in_schema=False)
        async def draft(session_id: str, request: Request) -> Response:
            found = await self.session(request, session_id)
            if isinstance(found, Response):
                return found
            container, session = found
            record = read_record(session.metadata)
            if record is None or record.get("status") not in ACTIVE_STATUSES:
                return JSONResponse(
                    {"detail": "the session is not with a person: the AI answers it itself"},
                    status_code=409,
                )
            try:
                drafted = await draft_reply(container, session_id, self._timeout_s)
            except Exception as error:  # no draft is no loss: the operator answers
                log.warning("draft failed session=%s: %r", session_id, error)
                drafted = None
            if drafted is None:
                return Response(status_code=204)
            log.info("draft made session=%s tools=%s", session_id, ",".join(drafted.tools))
            return JSONResponse({"draft": drafted.message, "tools": list(drafted.tools)})
