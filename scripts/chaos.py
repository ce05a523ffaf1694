"""`make chaos`: the randomized fault run (tests/support/chaos.py) over several seeds, and the
checker's table (tests/support/chaos_check.py).

    .venv/bin/python scripts/chaos.py [--seeds 10] [--first-seed 1] [--customers 8]
        [--load-seconds 60] [--lease-seconds 5] [--postgres-restarts] [--keep DIR]

Each seed is a whole run: a fresh PostgreSQL cluster, two agents behind HAProxy, two bridges,
the fake Slack; customers and operators writing while the seeded nemesis kills and restarts
replicas. The table has one row a seed; a failed seed's problems follow it, and its whole
history (JSON) and every replica's log go to --keep. Exit status 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PARLANT_HOME", tempfile.mkdtemp(prefix="chaos-import-"))
# Ports from a slice of their own (tests/support/agent_process.py free_port), not the first
# test worker's: a replica restarts on its port, and a test suite running beside took a killed
# bridge's metrics port in the meantime (its restart refused for 45 s, "already in use").
os.environ.setdefault("PYTEST_XDIST_WORKER", "gw7")

from tests.support.chaos import ChaosSettings, describe, history_json, run_seed
from tests.support.chaos_check import format_table, totals_row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--lease-seconds", type=float, default=5.0)
    parser.add_argument("--postgres-restarts", action="store_true")
    parser.add_argument("--keep", type=Path, default=Path("chaos-runs"))
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    # SIGTERM ends the seed like Ctrl-C: its processes and database are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows: list[list[str]] = []
    failed: list[str] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        began = time.monotonic()
        try:
            result = run_seed(
                ChaosSettings(
                    seed=seed,
                    customers=args.customers,
                    load_s=args.load_seconds,
                    lease_s=args.lease_seconds,
                    postgres_restarts=args.postgres_restarts,
                    # Kept: the replicas' logs, for reading a failed seed afterwards.
                    workdir=args.keep / f"seed-{seed}",
                )
            )
        except (RuntimeError, TimeoutError) as error:  # the set-up, before any fault
            print(f"seed {seed}: set-up failed, not counted: {error}"[:300], flush=True)
            failed.append(f"seed {seed}: set-up failed: {error}"[:300])
            continue
        rows.append(result.row())
        (args.keep / f"seed-{seed}.json").write_text(history_json(result))
        print(f"seed {seed} done in {time.monotonic() - began:.0f}s", flush=True)
        print(format_table(rows[-1:]), flush=True)
        if not result.verdict.ok:
            failed.append(describe(result))
    print()
    print(format_table([*rows, totals_row(rows)] if rows else rows))
    for text in failed:
        print()
        print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
