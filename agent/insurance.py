"""The insurance support agent declared as data: what it knows, how it behaves, when it hands off.

`server.py` turns this into Parlant entities. Each behaviour also carries the words the offline
NLP service matches on and the scripted line it answers with, so the same declaration drives
both a real LLM and the deterministic offline service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.handback_context import HANDBACK_VARIABLE
from agent.handback_message import for_the_customer
from agent.nlp.policy_answers import policy_answer

AGENT_ID = "insurance-support-agent"
AGENT_NAME = "Insurance Support Agent"
AGENT_DESCRIPTION = (
    "You are a friendly, precise support agent for an insurance company. You help customers "
    "file claims, check their open claims and understand their policy coverage. You never "
    "invent policy facts: you use the tools. When you cannot help, or the customer asks for a "
    "person, you hand the conversation to a human operator."
)


@dataclass(frozen=True)
class Term:
    name: str
    description: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Behaviour:
    """A guideline (action set) or an observation (action None) with its offline script."""

    key: str
    condition: str
    action: str | None
    tools: tuple[str, ...] = ()
    offline_triggers: tuple[str, ...] = ()
    offline_reply: str = ""
    # Offline, the behaviour applies while this context variable is set and the AI has not
    # replied since; `{name}` in offline_reply is replaced by the variable's value.
    offline_context_variable: str = ""
    # Offline, the category a handoff this behaviour offers is filed under.
    offline_handoff_category: str = ""


@dataclass(frozen=True)
class JourneyStep:
    """A chat step (say something) or a tool step (run a tool), reached by `condition`.

    offline_evidence: words in a customer message that make `condition` hold offline; a
    condition without them holds as soon as the step before is done.
    """

    chat: str | None = None
    tool: str | None = None
    condition: str | None = None
    offline_reply: str = ""
    offline_evidence: tuple[str, ...] = ()
    # Offline, this chat step has no line of its own: what it says is this tool's result in the
    # same turn, so it can only confirm what the tool did.
    offline_said_by_tool: str = ""


@dataclass(frozen=True)
class JourneySpec:
    key: str
    title: str
    description: str
    conditions: tuple[str, ...]
    steps: tuple[JourneyStep, ...]
    offline_triggers: tuple[str, ...] = field(default=())
    # Offline, a new request after the journey is done (or was left) starts it again: each
    # claim is its own. A journey that only explains answers follow-ups instead.
    offline_restarts: bool = False


TERMS: tuple[Term, ...] = (
    Term(
        "Customer Service Number",
        "Customers can reach a person by phone at +1-555-INSURE.",
        ("phone number", "hotline", "support number"),
    ),
    Term(
        "Operating Hours",
        "The support team works Monday to Friday, 9AM-6PM.",
        ("opening hours", "business hours", "office hours"),
    ),
)

HANDOFF_TRIGGERS: tuple[str, ...] = (
    "human",
    "person",
    "agent",
    "representative",
    "operator",
    "someone real",
    "real person",
    "supervisor",
    "manager",
)

# Words that show the customer described what happened, rather than only asking to file a
# claim ("I want to file a claim") or saying something else ("Thanks, what happens next?").
# Offline, a claim is filed only from a message containing one of them.
INCIDENT_DETAILS: tuple[str, ...] = (
    "hit",
    "crash",
    "collided",
    "collision",
    "rear-ended",
    "rear ended",
    "fender bender",
    "dent",
    "scratch",
    "crack",
    "broke",
    "smashed",
    "shattered",
    "stole",
    "theft",
    "break-in",
    "flood",
    "fire",
    "burst",
    "leak",
    "damage",
    "hail",
    "vandal",
    "fell",
    "fallen",
    "struck",
    "knocked",
    "bumped",
    "ran into",
    "backed into",
    "reversed",
    "reversing",
    "bent",
    "scraped",
    "swerved",
    "slid",
    "overturned",
    "collapsed",
    "blew",
    "skid",
    "wreck",
    "totaled",
    "totalled",
    "burn",
    "storm",
    "injur",
    "lost",
    # When it happened also says the customer is describing it, not only asking.
    "yesterday",
    "last night",
    "this morning",
    "ago",
)

# Words that ask to file a claim, or report a loss in a way that is a request to file one.
CLAIM_REQUESTS: tuple[str, ...] = (
    "file a claim",
    "new claim",
    "another claim",
    "second claim",
    "make a claim",
    "open a claim",
    "submit a claim",
    "accident",
    "crash",
    "collision",
    "was stolen",
    "got stolen",
    "break-in",
    "hit my",
    "damaged",
)

# Offline, a tool argument is taken only from a customer message with one of these words in it
# (the newest since the tool last ran); without one the tool does not run.
OFFLINE_ARGUMENT_EVIDENCE: dict[str, tuple[str, ...]] = {"claim_details": INCIDENT_DETAILS}
# Offline, that message must also be the customer's request to file or come after it: a
# question asked before ("Does my policy cover windscreen damage?") is not a claim's details.
OFFLINE_ARGUMENT_OPENERS: dict[str, tuple[str, ...]] = {"claim_details": CLAIM_REQUESTS}
# Offline, a question the policy answers (its deductible, whether a loss is covered) is answered
# from the policy the agent fetched last, also when no tool runs again for it.
OFFLINE_FOLLOW_UPS = {"get_policy_details": policy_answer}
# Offline, a context variable filled into a line is first rendered for the customer: the
# handback note is written for the AI, about the customer (agent/handback_message.py).
OFFLINE_RENDERERS = {HANDBACK_VARIABLE: for_the_customer}

CLAIM_JOURNEY = JourneySpec(
    key="file_claim",
    title="File an Insurance Claim",
    description="Collect the details of an accident or loss, file the claim and confirm it.",
    conditions=("The customer wants to file a new insurance claim or reports an accident or loss",),
    steps=(
        JourneyStep(
            chat="Ask the customer to describe the accident: what happened, when and where",
            offline_reply="Please describe what happened: what was damaged, when and where it happened.",
        ),
        JourneyStep(
            tool="file_claim",
            condition="The customer has described the accident",
            offline_evidence=INCIDENT_DETAILS,
        ),
        JourneyStep(
            chat="Confirm the claim was filed, give its claim id and say an adjuster will contact them",
            condition="The claim was filed",
            offline_said_by_tool="file_claim",
        ),
    ),
    offline_triggers=CLAIM_REQUESTS,
    offline_restarts=True,
)

COVERAGE_JOURNEY = JourneySpec(
    key="explain_coverage",
    title="Explain Policy Coverage",
    description="Fetch the customer's policy and explain what it covers in plain words.",
    conditions=(
        "The customer asks what their policy covers, or about their coverage, deductible, "
        "premium or renewal date",
    ),
    steps=(
        JourneyStep(tool="get_policy_details"),
        JourneyStep(
            chat="Explain the coverage from the policy details in plain words, without legal interpretation",
            condition="The policy details were retrieved",
            offline_reply="That is what your policy covers. Anything else I can explain?",
        ),
    ),
    offline_triggers=(
        "cover",
        "coverage",
        "covered",
        "my policy",
        "policy details",
        "deductible",
        "premium",
        "renew",
    ),
)

JOURNEYS: tuple[JourneySpec, ...] = (CLAIM_JOURNEY, COVERAGE_JOURNEY)

HANDOFF = Behaviour(
    key="handoff",
    condition=(
        "The customer asks to speak with a human, a person, an agent, a representative or an "
        "operator, or you are unsure what the next step should be"
    ),
    action=(
        "Call initiate_human_handoff with a short reason, then tell the customer that a person "
        "from the support team is joining the conversation"
    ),
    tools=("initiate_human_handoff",),
    offline_triggers=HANDOFF_TRIGGERS,
    offline_reply=(
        "I'm handing this conversation to a member of our support team. A person will join "
        "here shortly."
    ),
    offline_handoff_category="customer_asked",
)

# A complaint and a legal threat go to a person, each under its own category, so they can be
# counted and routed apart from a plain request for a person.
COMPLAINT = Behaviour(
    key="complaint",
    condition=(
        "The customer makes a formal complaint about the service, the handling of a claim or "
        "the company"
    ),
    action=(
        "Call initiate_human_handoff with category complaint and a short reason, then tell the "
        "customer their complaint is being passed to a person from the support team, who is "
        "joining the conversation"
    ),
    tools=("initiate_human_handoff",),
    offline_triggers=("complaint", "complain", "ombudsman"),
    offline_reply=(
        "I'm sorry this has gone wrong. I'm passing your complaint to a member of our support "
        "team. A person will join here shortly."
    ),
    offline_handoff_category="complaint",
)

LEGAL_THREAT = Behaviour(
    key="legal_threat",
    condition=(
        "The customer threatens legal action against the company: a lawsuit, a lawyer or court"
    ),
    action=(
        "Call initiate_human_handoff with category legal_threat and a short reason, then tell "
        "the customer a person from the support team is joining to take this up; do not argue "
        "and do not comment on the legal merits"
    ),
    tools=("initiate_human_handoff",),
    offline_triggers=(
        "legal action",
        "sue you",
        "suing you",
        "take you to court",
        "see you in court",
        "my lawyer",
        "my attorney",
        "my solicitor",
        "lawsuit against you",
    ),
    offline_reply=(
        "I understand. I'm passing this to a member of our support team to take it up with "
        "you. A person will join here shortly."
    ),
    offline_handoff_category="legal_threat",
)

# The guidelines that hand off, most specific first: a turn that matches several is filed
# under the first one's category and says only its line.
HANDOFFS: tuple[Behaviour, ...] = (LEGAL_THREAT, COMPLAINT, HANDOFF)

HANDBACK = Behaviour(
    key="handback",
    condition=(
        "A human operator has handed the conversation back to you with a note "
        f"({HANDBACK_VARIABLE}), and you have not replied to the customer since"
    ),
    action=(
        "Tell the customer you are back with them, pass on the outcome from the operator's "
        f"note ({HANDBACK_VARIABLE}) in your own words and continue helping from there; do not "
        "say that a person is joining or handling the conversation"
    ),
    offline_context_variable=HANDBACK_VARIABLE,
    # Offline the note is rendered for the customer (OFFLINE_RENDERERS), never read out as is.
    offline_reply=(
        "Thanks for waiting, I'm back with you. Our support team has looked into this: "
        f"{{{HANDBACK_VARIABLE}}}"
    ),
)

BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        key="no_legal_advice",
        condition=(
            "The customer asks for a legal interpretation of their policy, whether they are "
            "legally covered, or whether they would win a dispute or lawsuit"
        ),
        action=(
            "Say that you cannot give legal advice or legal interpretations of the policy; offer "
            "the factual policy details and suggest a licensed professional for legal questions"
        ),
        offline_triggers=("legal", "lawyer", "lawsuit", "sue ", "court", "legally", "liable"),
        offline_reply=(
            "I can't give legal advice or a legal interpretation of your policy. I can share "
            "the policy facts; for legal questions please consult a licensed professional."
        ),
    ),
    Behaviour(
        key="off_topic",
        condition="The customer asks about something unrelated to insurance",
        action="Politely say you can only help with insurance questions and offer what you can do",
        offline_triggers=(
            "weather",
            "recipe",
            "joke",
            "football",
            "movie",
            "poem",
            "bitcoin",
            "stock market",
            "homework",
        ),
        offline_reply=(
            "I can only help with insurance: filing a claim, checking your claims, or explaining "
            "your coverage."
        ),
    ),
    Behaviour(
        key="open_claims",
        condition="The customer asks about the status of their claims or their open claims",
        action="Look up the customer's open claims and list each with its id and status",
        tools=("get_open_claims",),
        offline_triggers=(
            "open claims",
            "my claims",
            "claim status",
            "status of my claim",
            "existing claim",
            "check my claim",
            "check on my claim",
        ),
        offline_reply="Those are the claims on file for you.",
    ),
    HANDOFF,
    COMPLAINT,
    LEGAL_THREAT,
    HANDBACK,
)

# What the agent does when the vague request is ambiguous: offline, the disambiguation answers
# with this action, whose line is VAGUE_REQUEST's offline_reply.
CLARIFICATION = (
    "Ask the customer whether they want to file a new claim, check an existing claim, or "
    "understand their coverage"
)

VAGUE_REQUEST = Behaviour(
    key="claim_or_policy",
    condition=(
        "The customer mentions their insurance, a claim or their policy without saying whether "
        "they want to file a new claim, check an existing claim or understand their coverage"
    ),
    action=None,
    offline_triggers=(
        "my insurance",
        "insurance question",
        "question about my insurance",
        "help with my insurance",
        "about a claim",
        "about my claim",
    ),
    offline_reply=(
        "Happy to help. Do you want to file a new claim, check an existing claim, or "
        "understand what your policy covers?"
    ),
)
