"""`POST /escalations/{session_id}/turn`: start an AI turn now, without a customer message.

After a handback the AI should tell the customer the outcome at once (handoff/actions.py
`return_to_ai`). Parlant's own way, an `ai_agent` message event without content, starts the
turn but then answers 500 every time: Parlant 3.3 looks for the turn's first status event under
the API request's trace id ("<main>"), which the turn, running under its own trace, never uses,
and logs a traceback for it. Here the agent starts the turn in-process and answers 202 at once.

Answers 404 for an unknown session, 409 while the session is with a person (manual mode: the AI
is silent), 403 without the operator token (as every /escalations/ path,
agent/authorization.py), 503 while the agent is starting.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from parlant.core.application import Application

from agent.operator_session_route import OperatorSessionRoute
from handoff.operator_api import TURN_PATH

log = logging.getLogger(__name__)


class TurnRoute(OperatorSessionRoute):
    def install(self, app: FastAPI) -> None:
        @app.post(TURN_PATH, include_in_schema=False)
        async def turn(session_id: str, request: Request) -> Response:
            found = await self.session(request, session_id)
            if isinstance(found, Response):
                return found
            container, session = found
            if session.mode != "auto":
                return JSONResponse(
                    {"detail": "the session is with a person: the AI is silent"}, status_code=409
                )
            await container[Application].sessions.dispatch_processing_task(session)
            log.info("AI turn started session=%s", session_id)
            return JSONResponse({"session_id": session_id}, status_code=202)
