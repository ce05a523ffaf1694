"""`make smoke-llm`: five customer turns against the configured real LLM, and what happened.

Starts the agent (`python -m agent`, so the preflight runs first) on free ports with a
throw-away PARLANT_HOME and the LLM settings of this environment and `.env`, then plays a
scripted conversation as the sample customer the agent seeds (Sam Carter, POL-1001): a policy
question, a claim in two turns, the open claims, and a request for a person. For each turn it prints the reply, the tools the agent called and the
tokens the reply cost (from the reply's `llm_usage` metadata, agent/nlp/token_usage.py); at the end,
whether the handoff happened and the tokens in total. Exit status 0 when every turn got a reply
and the handoff happened, 1 otherwise, 2 when the agent would not start.

The suite runs the same script against the local OpenAI-compatible fake
(tests/test_llm_contract.py), so it stays working for the day it meets a real model.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from agent.nlp.token_usage import USAGE_KEY
from config import EnvReader, SettingsError
from handoff.packet import HANDOFF_TOOL

TURNS: tuple[str, ...] = (
    "What does my policy cover?",
    "I want to file a claim",
    "Someone backed into my parked car yesterday and dented the rear door",
    "What are my open claims?",
    "Please let me talk to a human",
)
REPLY_TIMEOUT_S = 180


@dataclass
class Turn:
    said: str
    reply: str | None
    tools: list[str]
    usage: dict[str, Any] = field(default_factory=dict)


def format_turn(number: int, turn: Turn) -> str:
    """One turn as a few lines of text (pure)."""
    tokens = (
        f"{turn.usage.get('input_tokens', 0):,} in / {turn.usage.get('output_tokens', 0):,} out "
        f"over {turn.usage.get('generations', 0)} generations"
        if turn.usage
        else "not recorded"
    )
    return "\n".join(
        [
            f"turn {number}: customer: {turn.said}",
            f"  AI: {turn.reply if turn.reply is not None else '(no reply)'}",
            f"  tools: {', '.join(turn.tools) or 'none'}",
            f"  tokens: {tokens}",
        ]
    )


def format_summary(turns: list[Turn], handed_off: bool) -> str:
    total_in = sum(int(t.usage.get("input_tokens", 0)) for t in turns)
    total_out = sum(int(t.usage.get("output_tokens", 0)) for t in turns)
    tools = [tool for t in turns for tool in t.tools]
    return "\n".join(
        [
            f"tools called: {', '.join(tools) or 'none'}",
            f"handoff triggered: {'yes' if handed_off else 'no'}",
            f"replies: {sum(t.reply is not None for t in turns)} of {len(turns)}",
            f"tokens used: {total_in:,} in, {total_out:,} out",
        ]
    )


def play(base_url: str, headers: dict[str, str]) -> tuple[list[Turn], bool]:
    import httpx
    from parlant.client import ParlantClient

    from tests.support.chat import new_session, say, tool_calls_after, wait_for_ai_reply

    client = ParlantClient(
        base_url=base_url, httpx_client=httpx.Client(headers=headers, timeout=REPLY_TIMEOUT_S)
    )
    session = new_session(client)
    turns = []
    for text in TURNS:
        offset = say(client, session, text)
        try:
            reply = wait_for_ai_reply(client, session, offset, timeout=REPLY_TIMEOUT_S)
        except AssertionError as error:
            print(f"  ! {error}", file=sys.stderr)
            turns.append(Turn(text, None, []))
            continue
        # The usage is written just after the reply is emitted.
        usage: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while not usage and time.monotonic() < deadline:
            metadata = client.sessions.read_event(session, reply.id).metadata or {}
            usage = dict(metadata.get(USAGE_KEY) or {})
            if not usage:
                time.sleep(0.2)
        tools = [
            str(c["tool_id"]).split(":")[-1] for c in tool_calls_after(client, session, offset)
        ]
        turns.append(Turn(text, str(reply.data["message"]), tools, usage))
        print(format_turn(len(turns), turns[-1]), flush=True)
    handed_off = any(HANDOFF_TOOL in t.tools for t in turns)
    deadline = time.monotonic() + 20
    while handed_off and client.sessions.retrieve(session).mode != "manual":
        if time.monotonic() > deadline:
            handed_off = False
        time.sleep(0.2)
    return turns, handed_off


def llm_environment() -> dict[str, str]:
    """PARLANT_NLP and the LLM service's own variables, from the environment and .env."""
    env = EnvReader()
    chosen = {"PARLANT_NLP": env.string("PARLANT_NLP", "openai")}
    return {**chosen, **env.passthrough(), **_tiktoken(env)}


def _tiktoken(env: EnvReader) -> dict[str, str]:
    value = env.optional_str("TIKTOKEN_CACHE_DIR")
    return {"TIKTOKEN_CACHE_DIR": value} if value else {}


def main() -> int:
    from tests.support.agent_process import AgentProcess

    try:
        llm_env = llm_environment()
    except SettingsError as error:
        print(f"smoke-llm: configuration error: {error}", file=sys.stderr)
        return 2
    if llm_env["PARLANT_NLP"] == "offline":
        print("smoke-llm: PARLANT_NLP is offline; configure a real LLM first", file=sys.stderr)
        return 2
    token = "smoke-llm-operator-token-0123456789"
    home = Path(tempfile.mkdtemp(prefix="smoke-llm-")) / "parlant"
    agent = AgentProcess(home=home, extra_env={**llm_env, "PARLANT_OPERATOR_TOKEN": token})
    print(f"smoke-llm: starting the agent on {llm_env['PARLANT_NLP']} (log: {agent.log_path})")
    try:
        agent.start()
    except (RuntimeError, TimeoutError) as error:
        lines = [line for line in str(error).splitlines() if line.startswith("agent:")]
        print(f"smoke-llm: the agent did not start: {lines[-1] if lines else error}")
        return 2
    try:
        turns, handed_off = play(agent.url, {"Authorization": f"Bearer {token}"})
    finally:
        agent.stop()
    print(format_summary(turns, handed_off))
    return 0 if handed_off and all(t.reply is not None for t in turns) else 1


if __name__ == "__main__":
    sys.exit(main())
