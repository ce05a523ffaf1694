"""Multi-turn conversations with the real agent on the offline NLP: the tools each turn ran
(from the session's tool events, with their arguments) and what each reply says.

One agent process serves the whole module; every scenario has its own session.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from parlant.client import ParlantClient

from handoff import actions
from handoff.actions import Operator
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, tool_calls_after, wait_for_ai_reply

DANA = Operator(id="slack:U0DANA", name="Dana", origin="slack")

ASK_DETAILS = "describe what happened"
FILED = "adjuster will contact you"
POLICY_LINE = "That is what your policy covers"
HANDING_OFF = "A person will join here shortly"
MENU = "file a new claim, check an existing claim"
OFF_TOPIC = "only help with insurance"
LEGAL = "can't give legal advice"
NOTE = "The windscreen repair is booked for Friday at 10am"
BACK = "I'm back with you"
GUEST = "cannot see or change a policy or a claim"
FALLBACK = "I can help you file a claim, check your open claims"
# What an operator writes for the AI, not for the customer: it names her in the third person.
ALICE_NOTE = "Refund approved for Alice; she may ask about payment timing"
# The note's outcome as the customer hears it offline: addressed to them, never verbatim.
NOTE_RELAYED = "looked into this: the windscreen repair is booked for Friday at 10am."

CLAIM = "File an Insurance Claim"
COVERAGE = "Explain Policy Coverage"


@dataclass(frozen=True)
class Turn:
    """A customer message and what must follow: exactly `tools` run (in any order), each
    `args` value found in that tool's arguments, every `has` in the reply, no `lacks`."""

    text: str
    tools: tuple[str, ...] = ()
    args: dict[str, str] = field(default_factory=dict)
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandBack:
    """An operator returns the session to the AI with `note`: the AI writes to the customer at
    once, with every `has` in that message and no `lacks`."""

    note: str = NOTE
    has: tuple[str, ...] = (BACK, NOTE_RELAYED)
    lacks: tuple[str, ...] = (NOTE,)


@dataclass(frozen=True)
class Resolve:
    pass


@dataclass(frozen=True)
class Packet:
    """The handoff record's packet names this journey and step (step: a fragment of it)."""

    journey: str | None
    step: str = ""


@dataclass(frozen=True)
class Customer:
    """The session's customer (first step only; Sam Carter without it)."""

    id: str


@dataclass(frozen=True)
class Category:
    """The handoff record's reason category."""

    value: str


Step = Turn | HandBack | Resolve | Packet | Category | Customer


def claim_filed(details: str) -> Turn:
    return Turn(details, tools=("file_claim",), args={"file_claim": details}, has=("CLM-", FILED))


HUMAN = Turn(
    "Can I talk to a human?",
    tools=("initiate_human_handoff",),
    args={"initiate_human_handoff": "customer_asked"},
    has=(HANDING_OFF,),
    lacks=(POLICY_LINE, FILED, ASK_DETAILS),
)

SCENARIOS: dict[str, list[Step]] = {
    # --- policy ---------------------------------------------------------------------------
    "policy coverage from the policy tool": [
        Turn(
            "What does my policy cover?",
            tools=("get_policy_details",),
            has=("POL-1001", "Deductible $500", POLICY_LINE),
        )
    ],
    "deductible question uses the same journey": [
        Turn("What's my deductible?", tools=("get_policy_details",), has=("Deductible $500",))
    ],
    "a thank-you after the policy ends the journey without repeating it": [
        Turn("What does my policy cover?", tools=("get_policy_details",)),
        Turn("Thanks, that's clear", lacks=(POLICY_LINE, "POL-1001")),
    ],
    # --- claims ---------------------------------------------------------------------------
    "claim in two turns: asked for the details, then filed with them": [
        Turn("I want to file a claim", has=(ASK_DETAILS,), lacks=("CLM-",)),
        claim_filed("A delivery van hit my parked car on Elm Street this morning"),
    ],
    "claim with the details in the first message is not asked again": [
        claim_filed(
            "I want to file a claim: someone rear-ended me at a red light on Oak Ave yesterday"
        ),
    ],
    "claim described in other words (a tree fell) is filed": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        claim_filed("A tree fell on my parked car on Elm Street last night"),
    ],
    "a question instead of the details files nothing and asks again": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        Turn("What information do you need from me?", has=(ASK_DETAILS,), lacks=("CLM-",)),
        claim_filed("My windscreen cracked on the motorway this morning"),
    ],
    "the claim filed is listed as open afterwards": [
        claim_filed("I want to file a claim, hail damaged my car roof last night."),
        Turn(
            "What's the status of my claims?",
            tools=("get_open_claims",),
            has=("Your open claims", "hail damaged my car roof last night"),
            lacks=(FILED, ".."),
        ),
    ],
    "open claims on request": [Turn("What are my open claims?", tools=("get_open_claims",))],
    # --- topic changes --------------------------------------------------------------------
    "policy then a claim: the claim journey takes over": [
        Turn("What does my policy cover?", tools=("get_policy_details",)),
        Turn(
            "I want to file a claim for a fender bender, someone hit my bumper on Main St",
            tools=("file_claim",),
            has=(FILED,),
            lacks=(POLICY_LINE, ASK_DETAILS),
        ),
    ],
    "a claim started, then a policy question: the policy is answered alone": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        Turn(
            "Actually, what does my policy cover?",
            tools=("get_policy_details",),
            has=(POLICY_LINE,),
            lacks=(ASK_DETAILS,),
        ),
    ],
    # --- disambiguation, off-topic, legal -------------------------------------------------
    "a vague request is disambiguated, then followed": [
        Turn("I have a question about my insurance", has=(MENU,)),
        Turn("What does my policy cover?", tools=("get_policy_details",), lacks=(MENU,)),
    ],
    "off-topic is redirected": [Turn("Can you tell me a joke?", has=(OFF_TOPIC,))],
    "off-topic in the middle of a claim leaves the claim alone": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        Turn("What's the weather like today?", has=(OFF_TOPIC,), lacks=(ASK_DETAILS, "CLM-")),
    ],
    "a legal question gets no legal advice": [
        Turn("Would I win a lawsuit against the other driver?", has=(LEGAL,))
    ],
    "a legal question after the policy does not repeat the policy": [
        Turn("What does my policy cover?", tools=("get_policy_details",)),
        Turn("Could I sue the garage that repaired my car?", has=(LEGAL,), lacks=(POLICY_LINE,)),
    ],
    # --- handoff from each journey step -----------------------------------------------------
    "handoff with no journey": [HUMAN, Packet(None)],
    "handoff at the claim's ask step": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        HUMAN,
        Packet(CLAIM, "Ask the customer to describe the accident"),
    ],
    "handoff after the claim was filed (confirm step)": [
        claim_filed("I want to file a claim, someone stole my bike from the garage"),
        HUMAN,
        Packet(CLAIM, "Confirm the claim was filed"),
    ],
    "handoff after the policy was explained": [
        Turn("What does my policy cover?", tools=("get_policy_details",)),
        HUMAN,
        Packet(COVERAGE, "Explain the coverage"),
    ],
    "policy, claim, then a person: the packet names the claim journey": [
        Turn("What does my policy cover?", tools=("get_policy_details",)),
        claim_filed("I want to file a claim for a fender bender, someone hit my bumper"),
        HUMAN,
        Packet(CLAIM, "Confirm the claim was filed"),
    ],
    "a vague request and a person in one message: only the handoff is said": [
        Turn(
            "I want to talk to a human about my claim",
            tools=("initiate_human_handoff",),
            has=(HANDING_OFF,),
            lacks=(MENU,),
        ),
    ],
    "details and a request for a person in one message: only the handoff runs": [
        Turn(
            "Someone hit my car yesterday and I want to talk to a person",
            tools=("initiate_human_handoff",),
            has=(HANDING_OFF,),
            lacks=("CLM-",),
        ),
    ],
    # --- handback and resolve -------------------------------------------------------------
    "after a handback a thank-you files nothing": [
        claim_filed("I want to file a claim, a tree branch smashed my windscreen"),
        HUMAN,
        HandBack(),
        Turn("Thanks, what happens next?", lacks=(FILED, POLICY_LINE, BACK, "CLM-")),
    ],
    "after a handback at the ask step, a new description files the claim": [
        Turn("I want to file a claim", has=(ASK_DETAILS,)),
        HUMAN,
        HandBack(),
        Turn("ok thanks", lacks=("CLM-", ASK_DETAILS, NOTE_RELAYED)),
        Turn(
            "My car was damaged in a break-in last night on 5th Street",
            tools=("file_claim",),
            args={"file_claim": "My car was damaged in a break-in last night on 5th Street"},
            has=(FILED,),
            lacks=(NOTE_RELAYED,),
        ),
    ],
    "after a resolve the AI answers policy questions again": [
        HUMAN,
        Resolve(),
        Turn(
            "What does my policy cover?",
            tools=("get_policy_details",),
            has=("POL-1001",),
            lacks=(HANDING_OFF,),
        ),
    ],
    # --- the offline demo tells the truth (issue 28) ---------------------------------------
    "a second claim in one chat is asked for and filed, never confirmed before": [
        claim_filed("I want to file a claim, a van hit my parked car on Elm Street"),
        Turn("I'd like to file another claim", has=(ASK_DETAILS,), lacks=(FILED, "CLM-")),
        claim_filed("Hail damaged the roof of my garage last night"),
    ],
    "a guest asking to file hears that nothing was filed, not a confirmation": [
        Customer("guest"),
        Turn(
            "I want to file a claim, a van hit my parked car on Elm Street",
            tools=("file_claim",),
            has=(GUEST,),
            lacks=(FILED, "is filed", "CLM-"),
        ),
        Turn("ok", lacks=(FILED, "is filed", "CLM-")),
    ],
    "a coverage question before asking to file is not taken as the claim": [
        Turn("Does my policy cover windscreen damage?", tools=("get_policy_details",)),
        Turn("I'd like to file a claim.", has=(ASK_DETAILS,), lacks=(FILED, "CLM-")),
        claim_filed("A stone cracked my windscreen on the motorway this morning"),
    ],
    "follow-up questions are answered from the policy": [
        Turn("What's my deductible?", tools=("get_policy_details",), has=("deductible is $500",)),
        Turn(
            "is flood covered?", has=("Flood is not among", "collision, theft"), lacks=(FALLBACK,)
        ),
        Turn("Is my laptop covered then?", has=("Laptop is not among",), lacks=(FALLBACK,)),
        # Two turns after the journey was left, Parlant starts it again: the policy is fetched
        # again, and the answer still comes first.
        Turn(
            "And is theft covered?",
            tools=("get_policy_details",),
            has=("(Offline scripted reply) Theft is covered", "$1,000,000)"),
        ),
        Turn("When does it renew?", has=("renews on 2027-03-01",), lacks=(FALLBACK,)),
    ],
    "the handback note becomes a message at once, never read out verbatim": [
        Customer("cust-alice"),
        HUMAN,
        HandBack(
            ALICE_NOTE,
            has=(BACK, "looked into this: refund approved for you."),
            lacks=(ALICE_NOTE, "Alice", "she may ask"),
        ),
        Turn("thanks", lacks=(BACK, "refund approved")),
    ],
    "a formal complaint hands off as a complaint": [
        Turn(
            "I want to make a formal complaint about how my claim was handled",
            tools=("initiate_human_handoff",),
            has=(HANDING_OFF, "passing your complaint"),
            lacks=(FALLBACK,),
        ),
        Category("complaint"),
    ],
    "a legal threat hands off as a legal threat, with no legal-advice line": [
        Turn(
            "I'm going to take legal action against you",
            tools=("initiate_human_handoff",),
            has=(HANDING_OFF,),
            lacks=(LEGAL,),
        ),
        Category("legal_threat"),
    ],
    "a complaint asking for a manager is filed as a complaint, with one line": [
        Turn(
            "I want to complain to a manager",
            tools=("initiate_human_handoff",),
            has=("passing your complaint",),
            lacks=("I'm handing this conversation",),
        ),
        Category("complaint"),
    ],
    "after a resolve a thank-you runs nothing": [
        HUMAN,
        Resolve(),
        Turn("Thanks for your help", lacks=(HANDING_OFF, POLICY_LINE, FILED)),
    ],
}


def _wait_for_mode(client: ParlantClient, session: str, mode: str) -> None:
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != mode:
        assert time.monotonic() < deadline, f"session never went {mode}"
        time.sleep(0.2)


def _operator(agent: AgentProcess, step: HandBack | Resolve, session: str) -> None:
    async def go() -> Any:
        api = AsyncOperatorClient(base_url=agent.url)
        if isinstance(step, HandBack):
            return await actions.return_to_ai(api, session, DANA, step.note)
        return await actions.resolve(api, session, DANA)

    asyncio.run(go())


def _hand_back(client: ParlantClient, agent: AgentProcess, session: str, step: HandBack) -> str:
    """Return the session to the AI; the message the AI writes at once, without waiting for
    the customer (checked against the step)."""
    before = max(e.offset for e in client.sessions.list_events(session, wait_for_data=0))
    _operator(agent, step, session)
    reply = str(wait_for_ai_reply(client, session, before, timeout=20).data["message"])
    context = f"after handing back with {step.note!r}: {reply!r}"
    for text in step.has:
        assert text in reply, context
    for text in step.lacks:
        assert text not in reply, context
    return reply


def _turn(client: ParlantClient, session: str, turn: Turn) -> None:
    from agent.nlp.offline_nlp import OFFLINE_MARKER  # loads the engine: not at collection

    asked = say(client, session, turn.text)
    reply = str(wait_for_ai_reply(client, session, asked).data["message"])
    calls = tool_calls_after(client, session, asked)
    ran = sorted(str(c["tool_id"]).split(":")[-1] for c in calls)
    context = f"after {turn.text!r}: tools {ran}, reply {reply!r}"
    assert reply.startswith(OFFLINE_MARKER), context
    assert ran == sorted(turn.tools), context
    for tool, fragment in turn.args.items():
        arguments = [c["arguments"] for c in calls if str(c["tool_id"]).endswith(tool)]
        assert any(fragment in str(a) for a in arguments), context
    for text in turn.has:
        assert text in reply, context
    for text in turn.lacks:
        assert text not in reply, context
    if "initiate_human_handoff" in turn.tools:
        _wait_for_mode(client, session, "manual")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_conversation(name: str, client: ParlantClient, agent: AgentProcess) -> None:
    steps = SCENARIOS[name]
    first = steps[0]
    session = new_session(client, first.id) if isinstance(first, Customer) else new_session(client)
    for step in steps:
        if isinstance(step, Customer):
            assert step is first, "Customer() is a scenario's first step"
        elif isinstance(step, Turn):
            _turn(client, session, step)
        elif isinstance(step, HandBack):
            _hand_back(client, agent, session, step)
        elif isinstance(step, Category):
            record = (client.sessions.retrieve(session).metadata or {})["handoff"]
            assert isinstance(record, dict), record
            assert record["reason_category"] == step.value, record
        elif isinstance(step, Packet):
            record = (client.sessions.retrieve(session).metadata or {})["handoff"]
            assert isinstance(record, dict), record
            assert record["reason_category"] == "customer_asked", record
            packet = record["packet"]
            journey = packet["journey"]
            if step.journey is None:
                assert journey is None, packet
            else:
                assert journey is not None and journey["title"] == step.journey, packet
                assert step.step in journey["step"], packet
        else:
            _operator(agent, step, session)


def test_there_are_at_least_twenty_scenarios() -> None:
    assert len(SCENARIOS) >= 20
