"""Starting the bridge in Socket Mode or HTTP mode, and stopping it cleanly."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from config.gc_pauses import FrozenSurvivors
from slack_bridge.app import build_app
from slack_bridge.bridge import Bridge
from slack_bridge.clients import listing_client, parlant_client, slack_caller
from slack_bridge.health import ops_runner
from slack_bridge.open_state import open_bridge_store
from slack_bridge.settings import BridgeSettings
from slack_bridge.socket_mode_log import socket_mode_logger
from slack_kit.slack_api import client_session

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


async def run_bridge(settings: BridgeSettings) -> None:
    slack = settings.slack
    assert slack is not None
    if not slack.operator_ids:
        log.warning(
            "SLACK_OPERATOR_IDS is unset: every full member of the workspace may answer "
            "customers from the escalation threads (Slack guests may not); set it to the "
            "operators' user ids to allow only them"
        )
    parlant = parlant_client(settings)
    async with open_bridge_store(settings) as store, client_session(max_connections=100) as http:
        caller = slack_caller(slack, http, store)
        listing_http = listing_client(settings)
        bridge = Bridge(settings, slack, parlant, listing_http, caller, store)
        app = build_app(slack, caller.client, bridge)
        ops = await ops_runner(settings, store, caller, bridge.mirrors)
        frozen = FrozenSurvivors(asyncio.get_running_loop())
        frozen.install()
        try:
            if slack.socket_mode:
                handler = AsyncSocketModeHandler(app, slack.app_token, logger=socket_mode_logger())
                # Closed also when stopped while still connecting (Slack unreachable): its
                # aiohttp session was otherwise left open, and reported at exit.
                try:
                    # Retries until Slack answers; /readyz says what is wrong meanwhile.
                    await handler.connect_async()
                    log.info(
                        "bridge connected to Slack in Socket Mode; channels=%s",
                        ",".join(slack.routes.channels),
                    )
                    await bridge.run()
                finally:
                    await handler.close_async()
            else:
                runner = web.AppRunner(_http_app(app))
                await runner.setup()
                await web.TCPSite(runner, slack.bridge_host, slack.bridge_port).start()
                log.info(
                    "bridge serving Slack events at http://%s:%s%s; channels=%s",
                    slack.bridge_host,
                    slack.bridge_port,
                    EVENTS_PATH,
                    ",".join(slack.routes.channels),
                )
                try:
                    await bridge.run()
                finally:
                    await runner.cleanup()
        finally:
            frozen.uninstall()
            await bridge.stop()
            await ops.cleanup()
            await listing_http.aclose()


def _http_app(app: AsyncApp) -> web.Application:
    web_app = app.web_app(path=EVENTS_PATH)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_app.router.add_get("/healthz", healthz)
    return web_app
