"""Build and run the Parlant server with the insurance agent declared in `agent.insurance`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import parlant.sdk as p
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from lagom import Container
from parlant.api.authorization import AuthorizationPolicy
from parlant.core.customers import CustomerStore
from parlant.core.engines.alpha.hooks import EngineHooks
from parlant.core.loggers import LogLevel
from parlant.core.sessions import SessionListener, SessionStore

from agent import (
    context_filter,
    customer_chat,
    insurance,
    satisfaction_hook,
    tool_server_key,
    turn_lease,
)
from agent.ai_failure import FailSafe
from agent.authorization import (
    OperatorTokenPolicy,
    guard_operator_only_paths,
    install_refusal_handlers,
)
from agent.backlog_route import BacklogRoute
from agent.canned_route import CannedRoute
from agent.customers.gateway import MAX_BODY_BYTES, CustomerGateway, is_customer_call
from agent.customers.limits import keep_the_connections_peer
from agent.customers.settings import CustomerSettings, SigningKeys, load_signing_keys
from agent.draft_route import DraftRoute
from agent.escalation_routes import EscalationRoutes
from agent.insurance import Behaviour, JourneySpec
from agent.key_locks import KeyLocks
from agent.learned import learned_behaviours, learned_terms
from agent.learned_file import LearnedFile
from agent.learning_route import LearningRoute
from agent.nlp.gateway_usage import GatewayUsage
from agent.nlp.offline_nlp import OfflineNLPService, OfflineScript, normalise_text
from agent.nlp.token_usage import UsageLedger, UsageRecordingNLPService
from agent.nlp.turn_guard import GuardedNLPService, TurnGuard, TurnLimits
from agent.ops import AgentOps, SlackAuth
from agent.packet_capture import JourneySteps
from agent.parlant_params import ParlantQueryCheck, install_conflict_handler
from agent.reply_route import ReplyRoute
from agent.sample_customers import ensure_sample_customers
from agent.session_listener import NotifyingSessionListener, SessionChanges
from agent.settings import OFFLINE, AgentSettings
from agent.store.canned_replies import CannedReplies, SqliteCannedReplies
from agent.store.claims import SAMPLE_CUSTOMERS, Claims, ClaimsStore
from agent.store.postgres_canned_replies import PostgresCannedReplies
from agent.store.postgres_claims import PostgresClaimsStore
from agent.store.postgres_usage_book import PostgresUsageBook
from agent.store.session_stores import is_postgres_url, open_session_stores
from agent.store.usage_book import SqliteUsageBook, UsageBook
from agent.tools import EscalationNotifier, NoEscalationChannel, build_tools
from agent.turn_route import TurnRoute
from agent.usage_route import UsageRoute
from config.gc_pauses import FrozenSurvivors
from handoff.learned import LearnedEntry
from handoff.sla import SlaSettings
from slack_kit.backlog import BEHIND_AFTER_S, ReportedBacklogs

log = logging.getLogger(__name__)

_LOG_LEVELS = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "warning": LogLevel.WARNING,
    "error": LogLevel.ERROR,
}


def offline_script(learned: Sequence[Behaviour] = ()) -> OfflineScript:
    """The triggers and scripted lines of every behaviour and journey, keyed by their text;
    `learned` are the accepted guidelines of the learned file (agent/learned.py), matched
    offline by their own words and lines like the declared ones."""
    triggers: dict[str, tuple[str, ...]] = {}
    replies: dict[str, str] = {}
    context_triggers: dict[str, str] = {}
    for behaviour in (*insurance.BEHAVIOURS, *learned, insurance.VAGUE_REQUEST):
        triggers[normalise_text(behaviour.condition)] = behaviour.offline_triggers
        if behaviour.offline_context_variable:
            context_triggers[normalise_text(behaviour.condition)] = (
                behaviour.offline_context_variable
            )
        if behaviour.action and behaviour.offline_reply:
            replies[normalise_text(behaviour.action)] = behaviour.offline_reply
    replies[normalise_text(insurance.CLARIFICATION)] = insurance.VAGUE_REQUEST.offline_reply
    journeys: dict[str, tuple[str, ...]] = {}
    openers: dict[str, tuple[str, ...]] = dict(insurance.OFFLINE_ARGUMENT_OPENERS)
    for journey in insurance.JOURNEYS:
        for condition in journey.conditions:
            triggers[normalise_text(condition)] = journey.offline_triggers
        for step in journey.steps:
            if step.chat and step.offline_reply:
                replies[normalise_text(step.chat)] = step.offline_reply
            if step.condition and step.offline_evidence:
                triggers[normalise_text(step.condition)] = step.offline_evidence
                # A step's evidence counts from the customer's request onwards.
                openers[normalise_text(step.condition)] = journey.offline_triggers
        journeys[normalise_text(journey.title)] = (
            *journey.conditions,
            *(s.condition for s in journey.steps if s.condition),
        )
    return OfflineScript(
        triggers=triggers,
        replies=replies,
        context_triggers=context_triggers,
        journeys=journeys,
        argument_evidence=insurance.OFFLINE_ARGUMENT_EVIDENCE,
        evidence_openers=openers,
        follow_ups=insurance.OFFLINE_FOLLOW_UPS,
        renderers=insurance.OFFLINE_RENDERERS,
        restarting_journeys=frozenset(
            normalise_text(j.title) for j in insurance.JOURNEYS if j.offline_restarts
        ),
        clarification=insurance.CLARIFICATION,
        handoff_categories={
            normalise_text(b.action or ""): b.offline_handoff_category for b in insurance.HANDOFFS
        },
    )


def turn_guard(settings: AgentSettings) -> TurnGuard:
    return TurnGuard(TurnLimits(settings.ai_turn_timeout_seconds, settings.ai_turn_max_model_calls))


def nlp_service_factory(
    settings: AgentSettings,
    ledger: UsageLedger | None = None,
    guard: TurnGuard | None = None,
    book: UsageBook | None = None,
    learned: Sequence[Behaviour] = (),
) -> Callable[[Any], p.NLPService]:
    if settings.nlp == OFFLINE:
        script = offline_script(learned)

        def factory(container: Any) -> p.NLPService:
            return OfflineNLPService(script)

    else:
        factory = getattr(p.NLPServices, settings.nlp, None)  # type: ignore[assignment]
        if factory is None:
            raise ValueError(f"Parlant has no NLP service named {settings.nlp!r}")
    if guard is not None:
        unguarded, bounds = factory, guard

        def factory(container: Any) -> p.NLPService:
            return GuardedNLPService(unguarded(container), bounds)

    if ledger is None:
        return factory
    usage = GatewayUsage(book, ledger)

    def counted(container: Any) -> p.NLPService:
        service = UsageRecordingNLPService(factory(container), usage)
        service.share_embedder(container)
        return service

    return counted


def hooks_installer(
    ledger: UsageLedger, fail_safe: FailSafe | None = None
) -> Callable[[EngineHooks], Awaitable[EngineHooks]]:
    async def install(hooks: EngineHooks) -> EngineHooks:
        hooks = await ledger.install(await context_filter.install(hooks))
        # The satisfaction answer after the notes are dropped from what the turn sees.
        hooks = await satisfaction_hook.install(hooks)
        return await fail_safe.install(hooks) if fail_safe is not None else hooks

    return install


async def declare_agent(
    server: p.Server,
    tools: dict[str, p.ToolEntry],
    learned: Sequence[LearnedEntry] = (),
) -> p.Agent:
    """Create the agent, its glossary, journeys and guidelines (re-created on every start),
    with the accepted entries of the learned file (agent/learned.py) after the declared ones."""
    agent = await server.create_agent(
        id=insurance.AGENT_ID,
        name=insurance.AGENT_NAME,
        description=insurance.AGENT_DESCRIPTION,
        # A separate "One moment." message would be mirrored into every Slack thread.
        perceived_performance_policy=p.NullPerceivedPerformancePolicy(),
    )
    for term in (*insurance.TERMS, *learned_terms(learned)):
        await agent.create_term(
            name=term.name, description=term.description, synonyms=list(term.synonyms)
        )
    journeys = {spec.key: await _create_journey(agent, spec, tools) for spec in insurance.JOURNEYS}
    for behaviour in (*insurance.BEHAVIOURS, *learned_behaviours(learned)):
        await _create_guideline(agent, behaviour, tools)
    vague = await agent.create_observation(insurance.VAGUE_REQUEST.condition)
    await vague.disambiguate(list(journeys.values()))
    return agent


async def _create_guideline(
    agent: p.Agent, behaviour: Behaviour, tools: dict[str, p.ToolEntry]
) -> p.Guideline:
    return await agent.create_guideline(
        condition=behaviour.condition,
        action=behaviour.action,
        tools=[tools[name] for name in behaviour.tools],
    )


async def _create_journey(
    agent: p.Agent, spec: JourneySpec, tools: dict[str, p.ToolEntry]
) -> p.Journey:
    journey = await agent.create_journey(
        title=spec.title, description=spec.description, conditions=list(spec.conditions)
    )
    state: Any = journey.initial_state
    for step in spec.steps:
        if step.tool:
            transition = await state.transition_to(
                condition=step.condition, tool_state=tools[step.tool]
            )
        else:
            transition = await state.transition_to(condition=step.condition, chat_state=step.chat)
        state = transition.target
    await state.transition_to(state=p.END_JOURNEY)
    return journey


def escalation_notifier(
    settings: AgentSettings, backlogs: ReportedBacklogs | None = None
) -> EscalationNotifier:
    if settings.slack is None:
        return NoEscalationChannel()
    from slack_kit.root_message import SlackEscalationNotifier

    return SlackEscalationNotifier(settings.slack, settings.dashboard_url, settings.sla, backlogs)


def container_installer(
    operator_token: str | None, changes: SessionChanges | None, ledger: UsageLedger | None = None
) -> Callable[[Container], Awaitable[Container]]:
    async def install(container: Container) -> Container:
        if ledger is not None:
            ledger.store = container[SessionStore]  # type: ignore[type-abstract]
        # Without a token, Parlant's own policy: development, or production with PARLANT_ENV.
        if operator_token is not None:
            # lagom keys its container by abstract types, which mypy refuses as type[T].
            container[AuthorizationPolicy] = OperatorTokenPolicy(operator_token)  # type: ignore[type-abstract]
        if changes is not None:
            sessions = container[SessionStore]  # type: ignore[type-abstract]
            container[SessionListener] = NotifyingSessionListener(sessions, changes)  # type: ignore[type-abstract]
        return container

    return install


def api_configurer(
    operator_token: str | None,
    customers: CustomerSettings,
    keys: SigningKeys,
    sla: SlaSettings,
    ops: AgentOps | None = None,
    escalations: EscalationRoutes | None = None,
    replies: ReplyRoute | None = None,
    turns: TurnRoute | None = None,
    backlog: BacklogRoute | None = None,
    drafts: DraftRoute | None = None,
    usage: UsageRoute | None = None,
    learning: LearningRoute | None = None,
    canned: CannedRoute | None = None,
) -> Callable[[FastAPI], Awaitable[None]]:
    add_chat_page = customer_chat.installer(insurance.AGENT_ID, insurance.AGENT_NAME)

    async def configure(app: FastAPI) -> None:
        await add_chat_page(app)
        install_refusal_handlers(app)
        install_conflict_handler(app)
        if ops is not None:
            await ops.install(app)  # /metrics, /readyz (agent/ops.py)
        if escalations is not None:
            escalations.install(app)  # /escalations/... (agent/escalation_routes.py)
        if replies is not None:
            replies.install(app)  # /escalations/{id}/replies (agent/reply_route.py)
        if turns is not None:
            turns.install(app)  # /escalations/{id}/turn (agent/turn_route.py)
        if backlog is not None:
            backlog.install(app)  # /escalations/slack-backlog (agent/backlog_route.py)
        if drafts is not None:
            drafts.install(app)  # /escalations/{id}/draft (agent/draft_route.py)
        if usage is not None:
            usage.install(app)  # /escalations/llm-usage (agent/usage_route.py)
        if learning is not None:
            learning.install(app)  # /escalations/learning (agent/learning_route.py)
        if canned is not None:
            canned.install(app)  # /escalations/canned-replies (agent/canned_route.py)
        # add_middleware wraps what is there: the last added runs first on a request.
        app.add_middleware(ParlantQueryCheck)  # inside the gateway: operators' calls only
        app.add_middleware(
            CustomerGateway,
            settings=customers,
            keys=keys,
            operator_token=operator_token,
            agent_name=insurance.AGENT_NAME,
            demo_customers=SAMPLE_CUSTOMERS,
            sla=sla,
        )
        guard_operator_only_paths(app, operator_token, is_customer_call, MAX_BODY_BYTES)
        if customers.allowed_origins:
            # Outermost, so a browser's preflight is answered before anything refuses it.
            app.add_middleware(
                CORSMiddleware,
                allow_origins=list(customers.allowed_origins),
                allow_methods=["GET", "POST"],
                # The official widget's client (parlant-client, generated by Fern) sends
                # its x-fern-* headers on every call, so the browser asks for them too.
                allow_headers=[
                    "authorization",
                    "content-type",
                    "x-fern-language",
                    "x-fern-runtime",
                    "x-fern-runtime-version",
                    "x-fern-sdk-name",
                    "x-fern-sdk-version",
                ],
                max_age=600,
            )

    return configure


def open_usage_book(settings: AgentSettings) -> UsageBook:
    """What the model endpoint billed, beside the sessions like the claims."""
    if is_postgres_url(settings.session_store):
        return PostgresUsageBook(settings.session_store)
    return SqliteUsageBook(settings.home / "llm_usage.sqlite3")


def open_canned_replies(settings: AgentSettings) -> CannedReplies:
    """The supervisors' canned replies, beside the sessions like the claims."""
    if is_postgres_url(settings.session_store):
        return PostgresCannedReplies(settings.session_store)
    return SqliteCannedReplies(settings.home / "canned_replies.sqlite3")


def open_claims_store(settings: AgentSettings) -> Claims:
    """The claims live beside the sessions: in PostgreSQL when replicas share it."""
    if is_postgres_url(settings.session_store):
        return PostgresClaimsStore(settings.session_store)
    return ClaimsStore(settings.home / "claims.sqlite3")


async def serve(
    settings: AgentSettings,
    notifier: EscalationNotifier | None = None,
) -> None:
    """Run the server until cancelled; `agent.__main__` has already made `settings.home` private."""
    learned_file = LearnedFile(settings.learned_file)
    # Read once, before anything starts: a malformed file stops the start (agent/__main__.py).
    learned = learned_file.entries()
    async with AsyncExitStack() as stack:
        store = open_claims_store(settings)
        stack.callback(store.close)
        book = open_usage_book(settings)
        stack.callback(book.close)
        canned_replies = open_canned_replies(settings)
        stack.callback(canned_replies.close)
        slack_auth = None
        if settings.slack is not None:
            slack_auth = SlackAuth(settings.slack.bot_token, settings.slack.api_url)
            stack.push_async_callback(slack_auth.close)
        ops = AgentOps(settings.operator_token, settings.sla, store.ping, slack_auth)
        stack.push_async_callback(ops.close)
        journey_steps = JourneySteps()
        ledger = UsageLedger()
        guard = turn_guard(settings)
        backlogs = ReportedBacklogs()
        notifier = notifier or escalation_notifier(settings, backlogs)
        stores = await stack.enter_async_context(
            open_session_stores(settings.session_store, settings.home)
        )
        # Across replicas on PostgreSQL, in this process otherwise (agent/key_locks.py).
        locks = stores.key_locks or KeyLocks()
        tools = build_tools(store, notifier, journey_steps, locks)
        replies = ReplyRoute(
            settings.operator_token, store, locks, ops.ai_replies_held, stores.escalations
        )
        turns = TurnRoute(settings.operator_token)
        drafts = DraftRoute(settings.operator_token, settings.ai_turn_timeout_seconds)
        usage_route = UsageRoute(settings.operator_token, book)
        canned = CannedRoute(settings.operator_token, canned_replies, store)
        escalation_routes = None
        if stores.escalations is not None:
            ops.use_index(stores.escalations)
        if stores.escalations is not None and stores.changes is not None:
            escalation_routes = EscalationRoutes(
                stores.escalations, stores.changes, settings.operator_token
            )
        keep_the_connections_peer()
        tool_server_key.install(settings.tool_port)
        async with p.Server(
            host=settings.host,
            port=settings.port,
            tool_service_port=settings.tool_port,
            nlp_service=nlp_service_factory(
                settings, ledger, guard, book, learned_behaviours(learned)
            ),
            session_store=stores.sessions,
            customer_store=stores.customers,
            log_level=_LOG_LEVELS[settings.log_level],
            configure_hooks=hooks_installer(
                ledger,
                FailSafe(guard, notifier, journey_steps, ops.ai_turns_failed, locks),
            ),
            configure_container=container_installer(
                settings.operator_token, stores.changes, ledger
            ),
            configure_api=api_configurer(
                settings.operator_token,
                settings.customers,
                load_signing_keys(settings.customers, settings.home),
                settings.sla,
                ops,
                escalation_routes,
                replies,
                turns,
                BacklogRoute(
                    settings.operator_token,
                    backlogs,
                    settings.slack.behind_after_s if settings.slack else BEHIND_AFTER_S,
                ),
                drafts,
                usage_route,
                LearningRoute(settings.operator_token, learned_file),
                canned,
            ),
        ) as server:
            journey_steps.bind(server.container)
            ops.bind(server.container)
            replies.bind(server.container)
            turns.bind(server.container)
            drafts.bind(server.container)
            canned.bind(server.container)
            await declare_agent(server, tools, learned)
            if learned:
                log.info(
                    "learned file: %d guidelines, %d terms accepted",
                    len(learned_behaviours(learned)),
                    len(learned_terms(learned)),
                )
            await ensure_sample_customers(server.container[CustomerStore])  # type: ignore[type-abstract]
            # The turns of dead replicas are run again once this one can run turns.
            await stack.enter_async_context(turn_lease.running(stores.turns, server.container))
            log.info("agent declared; customer chat at %s", settings.chat_url)
            # Declared and serving: what exists now lives as long as the process.
            frozen = FrozenSurvivors(asyncio.get_running_loop())
            frozen.install()
            stack.callback(frozen.uninstall)
