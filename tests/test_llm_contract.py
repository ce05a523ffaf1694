"""The real LLM path: Parlant's own OpenAIService, the real openai SDK and real HTTP, against a
local OpenAI-compatible server (tests/fakes/fake_openai.py) that answers Parlant's prompts, read
as text, with the offline service's rules. With the real agent and bridge processes and the fake
Slack, a customer asks about the policy, files a claim, asks for a person; an operator writes an
internal note and hands back in Slack; the AI continues from the note.

What the prompts carry is checked on the prompts Parlant really sent: the internal note never
(agent/context_filter.py drops it), the handback note after the handback, and the old handoff
no longer. Also here: the preflight's one-line failures, `make smoke-llm`'s script, and that the
model names the preflight checks are the ones the installed Parlant asks for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from handoff.actions import INTERNAL_NOTE
from handoff.packet import HANDOFF_TOOL
from tests.support import forks
from tests.support.agent_process import REPO_ROOT
from tests.support.chat import new_session, say, tool_calls_after, wait_for_ai_reply
from tests.support.slack_world import SlackWorld, eventually, start_world, stop_world

if TYPE_CHECKING:
    from tests.fakes.fake_openai import FakeOpenAIThread

# The fake OpenAI server, the preflight's model lists and the token usage import Parlant's engine
# and the openai SDK: imported by the tests that use them, not when every xdist worker collects
# the suite (about two seconds each).

SECRET_NOTE = "Internal: customer sounded upset, check fraud flag QX-7731"
REFUND_NOTE = "Refund of $420 for the bumper approved, arrives in 3 days"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIThread]:
    from tests.fakes.fake_openai import FakeOpenAI

    fake = FakeOpenAI().run_in_thread()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def world(llm: FakeOpenAIThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    setup = start_world("socket", tmp_path_factory.mktemp("llm-world"), extra_env=llm.fake.env())
    yield setup
    stop_world(setup)


def turn(world: SlackWorld, session: str, text: str) -> tuple[Any, list[str]]:
    offset = say(world.client, session, text)
    reply = wait_for_ai_reply(world.client, session, offset, timeout=120)
    tools = [
        str(c["tool_id"]).split(":")[-1] for c in tool_calls_after(world.client, session, offset)
    ]
    return reply, tools


def reply_usage(world: SlackWorld, session: str, reply: Any) -> dict[str, Any]:
    from agent.nlp.token_usage import USAGE_KEY

    def read() -> dict[str, Any]:
        event = world.client.sessions.read_event(session, reply.id)
        return dict((event.metadata or {}).get(USAGE_KEY) or {})

    return eventually(read, what="the reply's token usage")


def test_a_conversation_through_parlants_openai_adapter_reaches_slack_and_back(
    world: SlackWorld, llm: FakeOpenAIThread
) -> None:
    from agent.nlp.llm_preflight import OPENAI_CHAT_MODELS

    fake = llm.fake
    session = new_session(world.client)  # the sample customer, who owns POL-1001

    reply, tools = turn(world, session, "What does my policy cover?")
    assert tools == ["get_policy_details"]
    assert "POL-1001" in reply.data["message"]
    usage = reply_usage(world, session, reply)
    assert usage["input_tokens"] > 1000 and usage["output_tokens"] > 0
    # Counted per request the endpoint answered, under the model names it bills (the request's).
    assert set(usage["models"]) <= set(OPENAI_CHAT_MODELS)

    reply, tools = turn(world, session, "I want to file a claim")
    assert tools == [] and "describe what happened" in reply.data["message"]
    reply, tools = turn(world, session, "A van reversed into my parked car and bent the bumper")
    assert tools == ["file_claim"] and "CLM-" in reply.data["message"]

    reply, tools = turn(world, session, "I want to talk to a human")
    assert tools == [HANDOFF_TOOL] and "person will join" in reply.data["message"]
    root = world.root_for(session)  # the handoff reached Slack

    # In the thread: an internal note, then the return to the AI with a note, as an operator would.
    world.operator_writes(world.dana, f"note: {SECRET_NOTE}", root.ts)
    eventually(
        lambda: [
            e
            for e in world.parlant_events(session, kinds="custom")
            if e.data.get("type") == INTERNAL_NOTE
        ],
        what="the internal note in Parlant",
    )
    world.click(root.ts, "escalation_return", world.dana)
    form = eventually(lambda: world.opened_views(), what="the handback form")[-1]
    sent_before = len(fake.prompts)
    assert (
        world.submit_view(form["id"], world.dana, {"handback_note": {"note": REFUND_NOTE}}) is None
    )
    eventually(
        lambda: world.client.sessions.retrieve(session).mode == "auto", what="back to the AI"
    )

    # The AI tells the customer at once, without waiting for them to write.
    handback = next(
        e for e in world.parlant_events(session, kinds="custom") if e.data.get("type") == "handback"
    )
    reply = wait_for_ai_reply(world.client, session, handback.offset)
    assert "$420" in reply.data["message"] and "3 days" in reply.data["message"]
    assert "person will join" not in reply.data["message"]

    # What Parlant really put in front of the model.
    after_handback = fake.prompts[sent_before:]
    assert after_handback, "the turn after the handback asked the model nothing"
    assert not [p for p in fake.prompts if SECRET_NOTE in p.text], (
        "an internal note reached a prompt"
    )
    drafts = [p for p in after_handback if p.schema_name == "CannedResponseDraftSchema"]
    assert drafts and all(REFUND_NOTE in p.text for p in drafts)
    handoff_call = f'"tool_id": "built-in:{HANDOFF_TOOL}"'
    assert not [p for p in after_handback if handoff_call in p.text], (
        "the handoff the handback ended still reached a prompt"
    )


def check(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLANT_"))}
    return forks.run(
        "agent",
        "--check",
        cwd=REPO_ROOT,
        env={
            **clean,
            "DOTENV_PATH": str(tmp_path / "none.env"),
            "PARLANT_HOME": str(tmp_path / "home"),
            **env,
        },
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_check_passes_against_an_endpoint_serving_every_model(
    llm: FakeOpenAIThread, tmp_path: Path
) -> None:
    result = check(llm.fake.env(), tmp_path)
    assert result.returncode == 0 and "LLM check passed" in one_line(result)


def test_check_names_the_setting_to_fix(llm: FakeOpenAIThread, tmp_path: Path) -> None:
    from agent.nlp.llm_preflight import OPENAI_MODELS
    from tests.fakes.fake_openai import FakeOpenAI

    refused = check({**llm.fake.env(), "OPENAI_API_KEY": "sk-wrong"}, tmp_path)
    assert refused.returncode == 3
    assert "refused OPENAI_API_KEY" in one_line(refused)

    unreachable = check({**llm.fake.env(), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, tmp_path)
    assert unreachable.returncode == 3
    assert "unreachable" in one_line(unreachable) and "OPENAI_BASE_URL" in one_line(unreachable)

    partial = FakeOpenAI(models=frozenset(OPENAI_MODELS) - {"gpt-4.1"}).run_in_thread()
    try:
        missing = check(partial.fake.env(), tmp_path)
    finally:
        partial.stop()
    assert missing.returncode == 3
    assert "does not serve gpt-4.1," in one_line(missing) and "PARLANT_NLP" in one_line(missing)


def test_help_starts_nothing(tmp_path: Path) -> None:
    result = forks.run(
        "agent", "--help", cwd=REPO_ROOT, env={**os.environ, "PARLANT_HOME": str(tmp_path / "home")}
    )
    assert result.returncode == 0 and "--check" in result.stdout
    assert not (tmp_path / "home").exists()


def test_the_smoke_script_plays_five_turns_and_reports(
    llm: FakeOpenAIThread, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLANT_"))}
    result = subprocess.run(
        [sys.executable, "scripts/smoke_llm.py"],
        check=False,
        cwd=REPO_ROOT,
        env={**clean, "DOTENV_PATH": str(tmp_path / "none.env"), **llm.fake.env()},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "tools called: get_policy_details, file_claim, get_open_claims, " in out
    assert f"{HANDOFF_TOOL}\nhandoff triggered: yes\nreplies: 5 of 5" in out
    assert out.count("  tokens: ") == 5 and "not recorded" not in out


async def test_the_preflights_model_list_is_what_parlant_asks_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from parlant.adapters.nlp.openai_service import OpenAIService
    from parlant.core.loggers import LogLevel, StdoutLogger
    from parlant.core.meter import LocalMeter
    from parlant.core.tracer import LocalTracer

    from agent.nlp.llm_preflight import OPENAI_CHAT_MODELS, OPENAI_EMBEDDING_MODELS
    from agent.nlp.tokenizer_files import default_cache_dir
    from tests.fakes.fake_openai import _SCHEMA_MODULES, schema_class

    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-used")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(default_cache_dir()))
    tracer = LocalTracer()
    logger = StdoutLogger(tracer, log_level=LogLevel.WARNING)
    service = OpenAIService(logger, tracer, LocalMeter(logger))
    asked = {
        (await service.get_schematic_generator(schema_class(name))).model_name
        for name in _SCHEMA_MODULES
    }
    embedder = await service.get_embedder()
    assert asked == set(OPENAI_CHAT_MODELS)
    assert {embedder.model_name} == set(OPENAI_EMBEDDING_MODELS)  # type: ignore[attr-defined]
