"""The accepted entries of the learned file as the agent's own declarations: a learned guideline
is a `Behaviour` and a learned term a `Term` (agent/insurance.py), so Parlant gets them like the
declared ones and the offline NLP service matches them by the same triggers and lines."""

from __future__ import annotations

from collections.abc import Sequence

from agent.insurance import Behaviour, Term
from handoff.learned import LearnedEntry, accepted


def learned_behaviours(entries: Sequence[LearnedEntry]) -> tuple[Behaviour, ...]:
    return tuple(
        Behaviour(
            key=f"learned-{e.id}",
            condition=e.condition,
            action=e.action,
            offline_triggers=e.customer_words,
            offline_reply=e.reply,
        )
        for e in accepted(entries, "guideline")
    )


def learned_terms(entries: Sequence[LearnedEntry]) -> tuple[Term, ...]:
    return tuple(Term(e.name, e.description, e.synonyms) for e in accepted(entries, "term"))
