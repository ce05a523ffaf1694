"""The learning loop's pure parts and the learned file: the resolve tag (handoff/learning.py),
the resolve form (slack_bridge/resolve_form.py), the learned entries (handoff/learned.py), the
file (agent/learned_file.py) and the declarations made from it (agent/learned.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from agent import insurance
from agent.learned import learned_behaviours, learned_terms
from agent.learned_file import LearnedFile, LearnedFileError, load
from handoff import record as records
from handoff.learned import AlreadyDecided, InvalidEntry, Person, proposal, read_entries
from handoff.learning import ANSWER_LIMIT, InvalidTag, Why, read_tag, resolve_tag, tag_entry
from slack_bridge import resolve_form

T = "2026-12-07T10:00:00+00:00"
SAM = {"id": "dashboard:sam", "name": "Sam"}
LEE = Person("dashboard:lee", "Lee")


def guideline(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "guideline",
        "condition": "The customer asks about roadside assistance",
        "action": "Say it is included and give the number",
        "customer_words": ["roadside assistance", " tow ", "tow", ""],
        "reply": "Roadside assistance is included.",
        "sessions": ["s1", "s2", "s1"],
        "proposed_by": SAM,
        "group_journey": "File an Insurance Claim",
        **changes,
    }


# --- The tag ----------------------------------------------------------------------------------


def test_a_tag_needs_a_known_reason_and_a_bounded_answer() -> None:
    tag = resolve_tag("ai_mistake", "  the right answer  ")
    assert (tag.why, tag.answer) == (Why.AI_MISTAKE, "the right answer")
    for why, answer, says in [
        (None, "", "Choose why"),
        ("", "", "Choose why"),
        ("bored", "", "Unknown reason"),
        ("other", "x" * (ANSWER_LIMIT + 1), "Keep the answer"),
    ]:
        with pytest.raises(InvalidTag, match=says):
            resolve_tag(why, answer)
    assert [w.label for w in Why] == [
        "Missing knowledge",
        "Needs a person's authority",
        "Customer preferred a person",
        "AI mistake",
        "Other",
    ]


def test_the_tag_is_kept_with_the_resolve_and_dropped_by_a_later_untagged_one() -> None:
    claimed = records.claimed(records.request_handoff(None, "", T, "posted"), "u", "Dana", T)
    tag = tag_entry(resolve_tag("missing_knowledge", "Yes, towing is covered."), SAM, T)
    resolved = records.resolved(claimed, "u", "Dana", T, tag)
    assert read_tag(resolved) == resolve_tag("missing_knowledge", "Yes, towing is covered.")
    assert resolved["learning"]["by"] == SAM and resolved["learning"]["at"] == T
    again = records.resolved(records.claimed(resolved, "u", "Dana", T), "u", "Dana", T)
    assert "learning" not in again and read_tag(again) is None
    # Metadata anyone with the token can write is read back checked.
    assert read_tag({"learning": {"why": "bored"}}) is None
    assert read_tag({"learning": {"why": "other", "answer": 5}}) == resolve_tag("other")


# --- The resolve form -------------------------------------------------------------------------


def test_the_resolve_form_offers_every_reason_and_an_optional_bounded_answer() -> None:
    target = resolve_form.ResolveTarget("sess-1", "C0ESC", "1700000000.000100")
    modal = resolve_form.resolve_modal(target)
    assert modal["callback_id"] == resolve_form.VIEW_RESOLVE
    assert len(modal["title"]["text"]) <= 24 and len(modal["private_metadata"]) <= 3000
    why, answer = modal["blocks"]
    assert not why.get("optional") and [o["value"] for o in why["element"]["options"]] == [
        w.value for w in Why
    ]
    assert answer["optional"] and answer["element"]["max_length"] == ANSWER_LIMIT
    option = why["element"]["options"][1]
    submitted = {
        **modal,
        "state": {
            "values": {
                resolve_form.WHY_BLOCK: {
                    resolve_form.WHY_INPUT: {"type": "radio_buttons", "selected_option": option}
                },
                resolve_form.ANSWER_BLOCK: {resolve_form.ANSWER_INPUT: {"value": None}},
            }
        },
    }
    assert resolve_form.resolve_target(submitted) == target
    assert resolve_form.resolve_why(submitted) == "needs_authority"
    assert resolve_form.resolve_answer(submitted) == ""
    assert resolve_form.resolve_why(modal) is None
    assert resolve_form.resolve_target({"private_metadata": "[]"}) is None


# --- Entries ----------------------------------------------------------------------------------


def test_a_proposal_is_checked_and_tidied() -> None:
    entry = proposal(guideline(), "abc", T)
    assert entry.customer_words == ("roadside assistance", "tow")
    assert entry.origin.sessions == ("s1", "s2")
    assert entry.origin.proposed_by == Person("dashboard:sam", "Sam")
    assert entry.origin.journey == "File an Insurance Claim"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "rule"}, "kind must be"),
        ({"condition": "  "}, "Write the condition"),
        ({"action": None}, "Write the action"),
        ({"condition": "x" * 501}, "Keep the condition to 500"),
        ({"customer_words": [f"w{i}" for i in range(21)]}, "at most 20"),
        ({"customer_words": "a\nb", "sessions": []}, "at least one session"),
        ({"sessions": "s1"}, "list of session ids"),
        ({"proposed_by": {"id": "x"}}, "an id and a name"),
    ]
    for changes, says in cases:
        with pytest.raises(InvalidEntry, match=says):
            proposal(guideline(**changes), "abc", T)
    with pytest.raises(InvalidEntry, match="Send a JSON object"):
        proposal([], "abc", T)
    term = proposal(
        {
            "kind": "term",
            "name": "Roadside",
            "description": "Towing",
            "sessions": ["s"],
            "proposed_by": SAM,
        },
        "t1",
        T,
    )
    assert (term.name, term.description, term.synonyms) == ("Roadside", "Towing", ())


def test_entries_round_trip_through_json_with_their_origin() -> None:
    accepted = proposal(guideline(), "g1", T).decided("accepted", LEE, T)
    rejected = proposal(guideline(kind="term", name="N", description="D"), "t1", T).decided(
        "rejected", LEE, T
    )
    pending = proposal(guideline(), "g2", T)
    document = json.loads(
        json.dumps({"entries": [e.as_json() for e in (accepted, rejected, pending)]})
    )
    assert document["entries"][0]["origin"]["accepted_by"] == {"id": LEE.id, "name": "Lee"}
    assert document["entries"][1]["origin"]["rejected_at"] == T
    assert read_entries(document) == [accepted, rejected, pending]
    with pytest.raises(AlreadyDecided):
        accepted.decided("rejected", LEE, T)
    broken = json.loads(json.dumps(document))
    del broken["entries"][0]["origin"]["accepted_by"]
    with pytest.raises(InvalidEntry, match="entry g1: Say who accepted it"):
        read_entries(broken)
    with pytest.raises(InvalidEntry, match="same id"):
        read_entries({"entries": [document["entries"][2]] * 2})


def test_accepted_entries_become_the_agents_behaviours_and_terms_and_match_offline() -> None:
    from agent.server import offline_script

    entries = [
        proposal(guideline(), "g1", T).decided("accepted", LEE, T),
        proposal(guideline(condition="Proposed only"), "g2", T),
        proposal(
            guideline(kind="term", name="Roadside", description="Towing", synonyms=["tow"]), "t1", T
        ).decided("accepted", LEE, T),
    ]
    [behaviour] = learned_behaviours(entries)
    assert behaviour.condition == "The customer asks about roadside assistance"
    assert behaviour.offline_triggers == ("roadside assistance", "tow")
    assert learned_terms(entries) == (insurance.Term("Roadside", "Towing", ("tow",)),)
    script = offline_script((behaviour,))
    assert script.applies(behaviour.condition, "Is roadside assistance included?")
    assert not offline_script().applies(behaviour.condition, "Is roadside assistance included?")
    assert script.reply_for(behaviour.action) == "Roadside assistance is included."


# --- The file ---------------------------------------------------------------------------------


def test_the_file_is_changed_whole_and_concurrent_changes_all_land(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "learned.json"
    assert LearnedFile(path).entries() == []

    def add(n: int) -> None:
        entry = proposal(guideline(), f"e{n}", T)
        LearnedFile(path).change(lambda entries: ([*entries, entry], None))

    # Each writer with its own LearnedFile and lock handle, as two replicas would be.
    threads = [threading.Thread(target=add, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e.id for e in load(path)) == sorted(f"e{n}" for n in range(12))
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_a_file_that_is_not_a_learned_file_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "learned.json"
    path.write_text("{not json")
    with pytest.raises(LearnedFileError, match="not JSON"):
        load(path)
    path.write_text('{"entries": {}}')
    with pytest.raises(LearnedFileError, match=r'not \{"entries"'):
        load(path)
    path.write_text('{"entries": [{"id": "../x", "status": "accepted"}]}')
    with pytest.raises(LearnedFileError, match="is not letters"):
        load(path)
    # A failed change leaves the file as it was.
    learned = LearnedFile(path)
    with pytest.raises(LearnedFileError):
        learned.change(lambda entries: (entries, None))
    assert path.read_text() == '{"entries": [{"id": "../x", "status": "accepted"}]}'


def test_the_repositorys_learned_file_is_a_learned_file() -> None:
    from agent.settings import DEFAULT_LEARNED_FILE

    load(DEFAULT_LEARNED_FILE)


# --- The routes, in-process -------------------------------------------------------------------


def test_the_routes_refuse_without_the_token_and_say_what_is_wrong(tmp_path: Path) -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from agent.learning_route import LearningRoute

    app = FastAPI()
    path = tmp_path / "learned.json"
    LearningRoute("op-token-0123456789", LearnedFile(path)).install(app)
    operator = {"Authorization": "Bearer op-token-0123456789"}
    with TestClient(app) as http:
        assert http.get("/escalations/learning").status_code == 403
        assert http.post("/escalations/learning/proposals", json=guideline()).status_code == 403
        assert http.post("/escalations/learning/x/accept", json={"by": SAM}).status_code == 403
        assert not path.exists()
        for body, says in [
            (b"{not json", "Send a JSON object"),
            (b'{"kind": "term"}', "list of session ids"),
        ]:
            refused = http.post("/escalations/learning/proposals", content=body, headers=operator)
            assert refused.status_code == 422 and says in refused.json()["detail"]
        created = http.post("/escalations/learning/proposals", json=guideline(), headers=operator)
        assert created.status_code == 201
        entry_id = created.json()["id"]
        assert (
            http.post(
                "/escalations/learning/nope/accept", json={"by": SAM}, headers=operator
            ).status_code
            == 404
        )
        assert (
            http.post(
                f"/escalations/learning/{entry_id}/approve", json={"by": SAM}, headers=operator
            ).status_code
            == 404
        )
        nobody = http.post(f"/escalations/learning/{entry_id}/accept", json={}, headers=operator)
        assert nobody.status_code == 422 and "Say who decides" in nobody.json()["detail"]
        rejected = http.post(
            f"/escalations/learning/{entry_id}/reject", json={"by": SAM}, headers=operator
        )
        assert rejected.json()["origin"]["rejected_by"] == SAM
        listed = http.get("/escalations/learning", headers=operator).json()["entries"]
        assert [(e["id"], e["status"]) for e in listed] == [(entry_id, "rejected")]
        # A broken file is an error of the agent's, never a wrong answer.
        path.write_text("[]")
        assert http.get("/escalations/learning", headers=operator).status_code == 500


def test_a_file_the_agent_may_not_write_is_said_so(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    learned = LearnedFile(not_a_directory / "learned.json")
    with pytest.raises(LearnedFileError, match=r"cannot be written.*AGENT_LEARNED_FILE"):
        learned.change(lambda entries: ([*entries, proposal(guideline(), "e1", T)], None))
