"""`/escalations/slack-backlog`: what waits to be posted into each escalation channel.

`PUT` is each bridge replica's report (slack_kit/backlog.py, every few seconds);
`GET` is every live replica's figures per channel, for the dashboard, each marked `behind`
by SLACK_BEHIND_AFTER_SECONDS. The handoff tool reads
the same figures to send a new escalation to the overflow channel while its channel is behind.
Operators only, as every /escalations/ path (agent/authorization.py); 422 for a malformed
report, saying what is wrong.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.authorization import OperatorCheck
from handoff.operator_api import BACKLOG_MAX_BODY_BYTES, SLACK_BACKLOG_PATH
from slack_kit.backlog import BadReport, ReportedBacklogs, parse_report

log = logging.getLogger(__name__)


class BacklogRoute:
    def __init__(
        self, operator_token: str | None, backlogs: ReportedBacklogs, behind_after_s: float
    ) -> None:
        self._is_operator = OperatorCheck(operator_token)
        self.backlogs = backlogs
        self._behind_after_s = behind_after_s

    def install(self, app: FastAPI) -> None:
        @app.put(SLACK_BACKLOG_PATH, include_in_schema=False)
        async def report(request: Request) -> Response:
            if not self._is_operator(request):
                return JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            if int(request.headers.get("content-length") or 0) > BACKLOG_MAX_BODY_BYTES:
                return JSONResponse(
                    {"detail": f"a report is at most {BACKLOG_MAX_BODY_BYTES} bytes"},
                    status_code=413,
                )
            try:
                reporter, channels = parse_report(await request.json())
            except ValueError as error:  # BadReport, or not JSON at all
                detail = str(error) if isinstance(error, BadReport) else "the body is not JSON"
                return JSONResponse({"detail": detail}, status_code=422)
            self.backlogs.report(reporter, channels, time.monotonic())
            behind = {c: b.waiting for c, b in channels.items() if b.waiting}
            if behind:
                log.debug("slack backlog reported by %s: %s", reporter, behind)
            return Response(status_code=204)

        @app.get(SLACK_BACKLOG_PATH, include_in_schema=False)
        async def current(request: Request) -> Response:
            if not self._is_operator(request):
                return JSONResponse({"detail": "this needs the operator token"}, status_code=403)
            return JSONResponse(
                {
                    "channels": {
                        c: {
                            "waiting": b.waiting,
                            "oldest_wait_seconds": round(b.oldest_wait_s, 1),
                            "behind": b.behind(self._behind_after_s),
                        }
                        for c, b in self.backlogs.current(time.monotonic()).items()
                    }
                }
            )
