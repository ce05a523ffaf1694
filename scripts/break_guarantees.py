"""Break each I/O promise on purpose, one bug at a time, and run the test the README's
Guarantees table names for it: every bug must make that test fail.

    .venv/bin/python scripts/break_guarantees.py            # every bug
    .venv/bin/python scripts/break_guarantees.py dedupe ...  # some, by name

Each bug is a small source edit applied in place and always undone (the file is restored
byte for byte), so run it on a clean worktree and not while other tests use it.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CRASH_TEST = (
    "tests/test_crash_points.py::test_a_crash_at_each_point_loses_doubles_and_reorders_nothing"
)
FAULTS = "tests/test_slack_bridge_faults.py"


@dataclass(frozen=True)
class Bug:
    name: str
    path: str
    old: str
    new: str
    test: str


BRIDGE_STORE = "tests/test_bridge_store.py"

BUGS = (
    Bug(
        "ai-failure-left-to-parlant",
        "agent/ai_failure.py",
        "        hooks.on_error.append(self.on_error)\n",
        "",
        "tests/test_ai_failure.py::test_a_failing_model_gives_one_honest_line_and_a_handoff",
    ),
    Bug(
        "failed-turn-not-labelled",
        "agent/ai_failure.py",
        "            await p.Session.current.labels.add(FAILED_TURN_LABEL)\n",
        "",
        "tests/test_ai_failure.py::test_supervisors_see_each_failed_turn_on_the_dashboard",
    ),
    Bug(
        "usage-of-successful-generations-only",
        "agent/nlp/token_usage.py",
        "        if self._usage.hook(generator):\n            return generator\n",
        "",
        "tests/test_gateway_usage.py::test_the_usage_book_is_what_the_gateway_billed",
    ),
    Bug(
        "canned-claim-confirmation",
        "agent/insurance.py",
        '            offline_said_by_tool="file_claim",\n',
        '            offline_reply="Your claim is filed. An adjuster will contact you soon.",\n',
        "tests/test_truthful_replies.py::test_no_reply_claims_an_action_its_turn_did_not_take",
    ),
    Bug(
        "dedupe-always-first",
        "slack_bridge/store/sqlite.py",
        "        return seen is None\n",
        "        return True\n",
        f"{FAULTS}::test_redelivered_refused_and_empty_replies_are_answered_once",
    ),
    Bug(
        "arrival-order",
        "slack_bridge/inbound.py",
        "            if waiting > 0:\n",
        "            if False:\n",
        f"{FAULTS}::test_two_operators_at_once_are_both_delivered_in_slack_order",
    ),
    Bug(
        "outbox-reversed",
        "slack_bridge/store/sqlite.py",
        "state = 'pending' AND session_id = ? ORDER BY ts, id",
        "state = 'pending' AND session_id = ? ORDER BY ts DESC, id",
        f"{FAULTS}::test_two_operators_at_once_are_both_delivered_in_slack_order",
    ),
    Bug(
        "mirror-cursor-before-post",
        "slack_bridge/mirror.py",
        "        await self._with_retries(partial(self.mirror_event, event, turn))\n",
        "        await self._store.advance_cursor(self._thread.session_id, event.offset + 1)\n"
        "        await self._with_retries(partial(self.mirror_event, event, turn))\n",
        f"{CRASH_TEST}[mirror.before_post]",
    ),
    Bug(
        # The one post-exactly-once helper of mirrored parts, handback lines and SLA notices.
        "repost-without-lookup",
        "slack_bridge/post_once.py",
        '        if status == "":\n            found = await find()',
        "        if False:\n            found = await find()",
        f"{CRASH_TEST}[handback.after_post]",
    ),
    Bug(
        "sla-repost-without-lookup",
        "slack_bridge/post_once.py",
        '        if status == "":\n            found = await find()',
        "        if False:\n            found = await find()",
        "tests/test_slack_sla.py::test_a_bridge_killed_after_posting_a_notice_does_not_post_it_again",
    ),
    Bug(
        "coalesced-repost-without-lookup",
        "slack_bridge/mirror.py",
        "        if unknown:\n",
        "        if False:\n",
        f"{CRASH_TEST}[mirror.after_post]",
    ),
    Bug(
        "outbox-resend-after-crash",
        "slack_bridge/inbound.py",
        "                await self._store.reply_sending(reply.id)\n",
        "",
        f"{CRASH_TEST}[outbox.after_send]",
    ),
    Bug(
        "handback-line-not-completed",
        "slack_bridge/discovery.py",
        '        if record.get("status") == "returned":\n',
        "        if False:\n",
        f"{CRASH_TEST}[handback.before_post]",
    ),
    Bug(
        # The root goes through the shared post-exactly-once helper too.
        "root-posted-without-lookup",
        "slack_bridge/post_once.py",
        '        if status == "":\n            found = await find()',
        "        if False:\n            found = await find()",
        f"{CRASH_TEST}[root.after_post]",
    ),
    Bug(
        "late-reply-refused-silently",
        "slack_bridge/inbound.py",
        '                notices.session_not_with_human(refusal.status or "none"),',
        '                "",',
        "tests/test_slack_bridge_e2e.py::test_escalation_round_trip",
    ),
    Bug(
        "over-masking",
        "slack_kit/masking.py",
        "if luhn_valid(digits) else match.group()",
        "if digits else match.group()",
        "tests/test_slack_masking_e2e.py",
    ),
    Bug(
        "outbox-turn-always-given",
        "slack_bridge/store/postgres.py",
        "yield await cursor.fetchone() is not None",
        "yield (await cursor.fetchone() is not None) or True",
        f"{BRIDGE_STORE}::test_racing_replicas_never_both_deliver_a_reply_and_keep_slack_order",
    ),
    Bug(
        "cursor-moves-back",
        "slack_bridge/store/postgres.py",
        "WHERE c.next_offset < excluded.next_offset",
        "WHERE true",
        f"{BRIDGE_STORE}::test_racing_cursor_writes_never_move_a_cursor_back",
    ),
    Bug(
        "lease-taken-from-a-live-holder",
        "slack_bridge/store/postgres.py",
        "WHERE l.owner = excluded.owner OR l.expires_at < now()",
        "WHERE true",
        f"{BRIDGE_STORE}::test_one_replica_holds_a_lease_until_it_expires_or_is_released",
    ),
    Bug(
        "bridge-state-synchronous-normal",
        "slack_bridge/store/sqlite.py",
        'PRAGMA synchronous=FULL")',
        'PRAGMA synchronous=NORMAL")',
        "tests/test_store_durability.py",
    ),
    Bug(
        "root-link-rewrites-the-record",
        "slack_bridge/root_sync.py",
        "set_={SLACK_LINK_KEY: bridge_slack_link(record, link)}",
        'set_={"handoff": {**record, "slack": link}}',
        "tests/test_bridge_in_process.py::"
        "test_a_claim_made_while_the_bridge_links_the_root_it_posted_is_kept",
    ),
)


def caught(bug: Bug) -> tuple[bool, str]:
    """(the named test failed, its first assertion line). Only exit status 1 (tests failed)
    counts: an error collecting or a test id that matches nothing is not a catch."""
    path = REPO / bug.path
    original = path.read_bytes()
    text = original.decode()
    if text.count(bug.old) != 1:
        raise SystemExit(f"{bug.name}: the code to break is not in {bug.path} exactly once")
    try:
        path.write_text(text.replace(bug.old, bug.new))
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", bug.test],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        path.write_bytes(original)
    reasons = [line for line in run.stdout.splitlines() if line.startswith("E  ")]
    return run.returncode == 1, (reasons[0].strip() if reasons else run.stdout[-200:])


def main(names: list[str]) -> int:
    chosen = [b for b in BUGS if not names or b.name in names]
    missed = []
    for bug in chosen:
        verdict, reason = caught(bug)
        print(f"{'caught' if verdict else 'MISSED'}  {bug.name}  ({bug.test})", flush=True)
        print(f"        {reason[:160]}", flush=True)
        if not verdict:
            missed.append(bug.name)
    print(f"{len(chosen) - len(missed)}/{len(chosen)} caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
