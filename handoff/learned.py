"""What the agent learned from handoffs: guidelines and glossary terms a supervisor proposed
from tagged resolves (handoff/learning.py) and accepted. Pure: the shape of one entry, its
checks, and the file's JSON (agent/learned_file.py reads and writes it; the agent declares the
accepted ones at start beside agent/insurance.py's own).

Each entry keeps its origin: the sessions it came from, who proposed and who accepted it, when.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Kind = Literal["guideline", "term"]
Status = Literal["proposed", "accepted", "rejected"]
KINDS: tuple[Kind, ...] = ("guideline", "term")

CONDITION_LIMIT = 500
ACTION_LIMIT = 1000
REPLY_LIMIT = 2000
NAME_LIMIT = 100
WORDS_LIMIT = 20
WORD_LIMIT = 100
SESSIONS_LIMIT = 50
ID_LIMIT = 200
# Proposals and accepted entries together: the file is read whole at every start.
ENTRIES_LIMIT = 1000

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidEntry(ValueError):
    """A proposal or file entry that cannot be kept; the message says what to change."""


class AlreadyDecided(InvalidEntry):
    """The proposal was accepted or rejected before."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Origin:
    """Where an entry came from and who decided on it."""

    sessions: tuple[str, ...]
    proposed_by: Person
    proposed_at: str
    # What the handoffs it came from had in common (the learning page's group).
    guideline: str = ""
    journey: str = ""
    category: str = ""
    decided_by: Person | None = None
    decided_at: str = ""


@dataclass(frozen=True)
class LearnedEntry:
    id: str
    kind: Kind
    status: Status
    origin: Origin
    # A guideline: when it applies and what the agent does; offline, the customer's words that
    # make it apply and the line it answers with (agent/nlp/offline_nlp.py matches these exactly as
    # it matches agent/insurance.py's own behaviours).
    condition: str = ""
    action: str = ""
    customer_words: tuple[str, ...] = ()
    reply: str = ""
    # A glossary term.
    name: str = ""
    description: str = ""
    synonyms: tuple[str, ...] = field(default=())

    def decided(self, status: Status, by: Person, at: str) -> LearnedEntry:
        if self.status != "proposed":
            raise AlreadyDecided(f"This proposal was {self.status} already.")
        return replace(
            self, status=status, origin=replace(self.origin, decided_by=by, decided_at=at)
        )

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, "status": self.status}
        if self.kind == "guideline":
            body.update(
                condition=self.condition,
                action=self.action,
                customer_words=list(self.customer_words),
                reply=self.reply,
            )
        else:
            body.update(name=self.name, description=self.description, synonyms=list(self.synonyms))
        origin = self.origin
        body["origin"] = {
            "sessions": list(origin.sessions),
            "guideline": origin.guideline,
            "journey": origin.journey,
            "category": origin.category,
            "proposed_by": origin.proposed_by.as_json(),
            "proposed_at": origin.proposed_at,
            **(
                {
                    f"{self.status}_by": origin.decided_by.as_json(),
                    f"{self.status}_at": origin.decided_at,
                }
                if origin.decided_by is not None
                else {}
            ),
        }
        return body


def _text(body: Mapping[str, Any], key: str, limit: int, what: str, required: bool) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidEntry(f"{what} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidEntry(f"Write {what}.")
    if len(value) > limit:
        raise InvalidEntry(f"Keep {what} to {limit:,} characters (it has {len(value):,}).")
    return value


def _words(body: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise InvalidEntry(f"{what} must be a list of phrases")
    words = tuple(dict.fromkeys(" ".join(w.split()) for w in value if w.strip()))
    if len(words) > WORDS_LIMIT:
        raise InvalidEntry(f"Give at most {WORDS_LIMIT} {what} (there are {len(words)}).")
    if any(len(w) > WORD_LIMIT for w in words):
        raise InvalidEntry(f"Keep each of the {what} to {WORD_LIMIT} characters.")
    return words


def person(value: Any, what: str) -> Person:
    if not isinstance(value, Mapping):
        raise InvalidEntry(f"Say who {what} ({{'id': ..., 'name': ...}}).")
    person_id = str(value.get("id") or "").strip()[:NAME_LIMIT]
    name = str(value.get("name") or "").strip()[:NAME_LIMIT]
    if not person_id or not name:
        raise InvalidEntry(f"Say who {what}: an id and a name.")
    return Person(person_id, name)


def _sessions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise InvalidEntry("Name the sessions it came from: a list of session ids.")
    sessions = tuple(dict.fromkeys(s.strip() for s in value))
    if not sessions:
        raise InvalidEntry("Name at least one session it came from.")
    if len(sessions) > SESSIONS_LIMIT or any(len(s) > ID_LIMIT for s in sessions):
        raise InvalidEntry(f"Name at most {SESSIONS_LIMIT} sessions, by their ids.")
    return sessions


def proposal(body: Any, entry_id: str, now: str) -> LearnedEntry:
    """A new proposal from what a supervisor wrote, or InvalidEntry saying what to change."""
    if not isinstance(body, Mapping):
        raise InvalidEntry("Send a JSON object.")
    kind = body.get("kind")
    if kind not in KINDS:
        raise InvalidEntry("kind must be guideline or term.")
    origin = Origin(
        sessions=_sessions(body.get("sessions")),
        proposed_by=person(body.get("proposed_by"), "proposes it"),
        proposed_at=now,
        guideline=_text(body, "group_guideline", CONDITION_LIMIT, "the group's guideline", False),
        journey=_text(body, "group_journey", NAME_LIMIT, "the group's journey", False),
        category=_text(body, "group_category", NAME_LIMIT, "the group's category", False),
    )
    if kind == "guideline":
        return LearnedEntry(
            id=entry_id,
            kind="guideline",
            status="proposed",
            origin=origin,
            condition=_text(body, "condition", CONDITION_LIMIT, "the condition", True),
            action=_text(body, "action", ACTION_LIMIT, "the action", True),
            customer_words=_words(body, "customer_words", "customer's words"),
            reply=_text(body, "reply", REPLY_LIMIT, "the offline reply", False),
        )
    return LearnedEntry(
        id=entry_id,
        kind="term",
        status="proposed",
        origin=origin,
        name=_text(body, "name", NAME_LIMIT, "the term's name", True),
        description=_text(body, "description", ACTION_LIMIT, "the term's description", True),
        synonyms=_words(body, "synonyms", "synonyms"),
    )


def read_entry(body: Any) -> LearnedEntry:
    """One entry of the file, as `as_json` wrote it; InvalidEntry naming what is wrong."""
    if not isinstance(body, Mapping):
        raise InvalidEntry("an entry is not an object")
    entry_id = str(body.get("id") or "")
    if not _ID.match(entry_id):
        raise InvalidEntry(f"entry id {entry_id[:70]!r} is not letters, digits, - or _")
    status = body.get("status")
    if status not in ("proposed", "accepted", "rejected"):
        raise InvalidEntry(f"entry {entry_id}: status must be proposed, accepted or rejected")
    raw_origin = body.get("origin")
    if not isinstance(raw_origin, Mapping):
        raise InvalidEntry(f"entry {entry_id}: no origin")
    try:
        read = proposal(
            {
                **body,
                "sessions": raw_origin.get("sessions"),
                "proposed_by": raw_origin.get("proposed_by"),
                "group_guideline": raw_origin.get("guideline"),
                "group_journey": raw_origin.get("journey"),
                "group_category": raw_origin.get("category"),
            },
            entry_id,
            str(raw_origin.get("proposed_at") or ""),
        )
        decided_by = None
        if status != "proposed":
            decided_by = person(raw_origin.get(f"{status}_by"), f"{status} it")
    except InvalidEntry as invalid:
        raise InvalidEntry(f"entry {entry_id}: {invalid}") from None
    return replace(
        read,
        status=status,
        origin=replace(
            read.origin,
            decided_by=decided_by,
            decided_at=str(raw_origin.get(f"{status}_at") or "") if decided_by else "",
        ),
    )


def read_entries(document: Any) -> list[LearnedEntry]:
    """The entries of a learned file ({"entries": [...]}); InvalidEntry on the first bad one."""
    if not isinstance(document, Mapping) or not isinstance(document.get("entries"), list):
        raise InvalidEntry('the file is not {"entries": [...]}')
    entries = [read_entry(e) for e in document["entries"]]
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidEntry("two entries have the same id")
    return entries


def as_document(entries: Iterable[LearnedEntry]) -> dict[str, Any]:
    return {"entries": [e.as_json() for e in entries]}


def accepted(entries: Sequence[LearnedEntry], kind: Kind) -> list[LearnedEntry]:
    return [e for e in entries if e.status == "accepted" and e.kind == kind]
