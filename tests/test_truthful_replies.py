"""The offline demo never claims an action it did not take (issue 28): across random orders of
the conversation scenarios' customer messages, with handbacks between them, every reply that
says a claim was filed, a person is joining or something was changed is backed by the tool
events of its own turn (or, for what an operator did, by the session's handback notes).

Property-based (Hypothesis) through the real agent on the offline NLP, one session per example:
a tenth of the profile's count (tests/conftest.py), so 10 fresh conversations in `make test`
(each up to six AI turns, about 2 s apiece on a busy machine) and 100 in `make test-deep`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parlant.client import ParlantClient

from handoff import actions
from handoff.operator_api import AsyncOperatorClient
from tests.support.agent_process import AgentProcess
from tests.support.chat import new_session, say, tool_calls_after, wait_for_ai_reply
from tests.test_conversation_scenarios import DANA, NOTE, SCENARIOS, Turn

# What a reply may claim, and which tool's result in the same turn must show it.
FILED = re.compile(
    r"\bclaim\b[^.]*\b(?:is|was|has been)\s+filed\b|\badjuster will contact\b", re.IGNORECASE
)
FILED_ID = re.compile(r"\b(CLM-\d+)\b[^.(]*\b(?:is|was|has been)\s+filed\b", re.IGNORECASE)
HANDING_OFF = re.compile(
    r"\bhanding this conversation\b|\bpassing (?:your complaint|this)\b|\bperson will join\b",
    re.IGNORECASE,
)
# No tool updates, changes, cancels or pays anything: only an operator's note may say so.
CHANGED = re.compile(
    r"\b(?:updated|changed|cancell?ed|refunded|approved|paid|booked|waived)\b", re.IGNORECASE
)

HANDBACK = "<operator hands back>"
CUSTOMER_MESSAGES = sorted(
    {step.text for steps in SCENARIOS.values() for step in steps if isinstance(step, Turn)}
)


@dataclass(frozen=True)
class Shown:
    """What one turn's events show: claims filed (their ids), whether it handed off."""

    filed: frozenset[str]
    handed_off: bool


def shown_by(calls: list[dict[str, Any]]) -> Shown:
    filed = set()
    handed_off = False
    for call in calls:
        name = str(call["tool_id"]).split(":")[-1]
        data = (call.get("result") or {}).get("data") or {}
        if name == "file_claim" and data.get("filed"):
            filed.add(str(data["claim_id"]))
        handed_off = handed_off or name == "initiate_human_handoff"
    return Shown(frozenset(filed), handed_off)


def unbacked_claims(reply: str, shown: Shown, notes: list[str]) -> list[str]:
    """The actions `reply` claims that `shown` (and the operators' `notes`) do not back."""
    problems = []
    if FILED.search(reply) and not shown.filed:
        problems.append("says a claim was filed, but no claim was filed this turn")
    for claim_id in FILED_ID.findall(reply):
        if claim_id not in shown.filed:
            problems.append(f"says {claim_id} was filed, but this turn filed {set(shown.filed)}")
    if HANDING_OFF.search(reply) and not shown.handed_off:
        problems.append("says a person is joining, but nothing handed off this turn")
    for word in CHANGED.findall(reply):
        if not any(word.lower() in note.lower() for note in notes):
            problems.append(f"says {word!r}, which no tool does and no operator wrote")
    return problems


def test_the_checker_catches_false_claims() -> None:
    nothing = Shown(frozenset(), False)
    assert unbacked_claims("Your claim is filed. An adjuster will contact you.", nothing, [])
    assert unbacked_claims("A person will join here shortly.", nothing, [])
    assert unbacked_claims("Your policy was updated.", nothing, [])
    filed = Shown(frozenset({"CLM-0002"}), False)
    assert unbacked_claims("Claim CLM-0003 was filed under policy POL-1001.", filed, [])
    assert not unbacked_claims("Claim CLM-0002 was filed under policy POL-1001.", filed, [])
    assert not unbacked_claims(
        "Your open claims: CLM-0001 (in review, filed 2026-11-01).", nothing, []
    )
    assert not unbacked_claims("the repair is booked for Friday.", nothing, ["Repair booked"])


def _wait_for_mode(client: ParlantClient, session: str, mode: str) -> None:
    deadline = time.monotonic() + 20
    while client.sessions.retrieve(session).mode != mode:
        assert time.monotonic() < deadline, f"session never went {mode}"
        time.sleep(0.2)


def _hand_back(client: ParlantClient, agent: AgentProcess, session: str) -> str:
    before = max(e.offset for e in client.sessions.list_events(session, wait_for_data=0))

    async def go() -> None:
        await actions.return_to_ai(AsyncOperatorClient(base_url=agent.url), session, DANA, NOTE)

    asyncio.run(go())
    return str(wait_for_ai_reply(client, session, before, timeout=20).data["message"])


@settings(
    max_examples=max(1, settings.default.max_examples // 10),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    customer=st.sampled_from(["cust-sam", "cust-bob", "guest"]),
    steps=st.lists(st.sampled_from([*CUSTOMER_MESSAGES, HANDBACK]), min_size=1, max_size=6),
)
def test_no_reply_claims_an_action_its_turn_did_not_take(
    customer: str, steps: list[str], client: ParlantClient, agent: AgentProcess
) -> None:
    session = new_session(client, customer)
    manual = False
    notes: list[str] = []
    transcript: list[str] = []
    for step in steps:
        if step == HANDBACK and not manual:
            continue  # nothing to hand back
        if manual:
            # The AI is silent during a handoff: an operator hands back first.
            notes.append(NOTE)
            reply = _hand_back(client, agent, session)
            transcript.append(f"[handback] -> {reply}")
            problems = unbacked_claims(reply, Shown(frozenset(), False), notes)
            assert not problems, (problems, transcript)
            manual = False
            if step == HANDBACK:
                continue
        asked = say(client, session, step)
        reply = str(wait_for_ai_reply(client, session, asked).data["message"])
        shown = shown_by(tool_calls_after(client, session, asked))
        transcript.append(f"{step} -> {reply}")
        problems = unbacked_claims(reply, shown, notes)
        assert not problems, (problems, transcript)
        if shown.handed_off:
            _wait_for_mode(client, session, "manual")
            manual = True
