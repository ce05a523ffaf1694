"""`make reset-data`: delete the conversations, customers, claims and the bridge's state only.

Kept: the operator token (operator tools configured with it keep working), `.env`, and Parlant's
caches (embeddings and guideline evaluations are derived from the code and make the next start
fast). The claims database is seeded again with the sample customers on the next start. A
MongoDB session store (PARLANT_SESSION_STORE=mongodb://...) is not touched.
Refused while the agent (or the bridge) is running: their open databases would be replaced
under them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.settings import AgentSettings
from config import EnvReader, SettingsError
from config.ports import Listener, bind_problem
from slack_bridge.settings import BridgeSettings

# What the agent keeps in PARLANT_HOME that is customers' data (the SQLite stores with their
# WAL files, Parlant's JSON stores and its log, which quotes conversations).
DATA_PATTERNS = (
    "*.sqlite3",
    "*.sqlite3-wal",
    "*.sqlite3-shm",
    "sessions.json",
    "customers.json",
    "parlant.log",
)


def data_files(agent: AgentSettings, bridge: BridgeSettings) -> list[Path]:
    found: set[Path] = set()
    if agent.home.is_dir():
        for pattern in DATA_PATTERNS:
            found.update(p for p in agent.home.glob(pattern) if p.is_file())
    state = bridge.state_path
    for candidate in (state, Path(f"{state}-wal"), Path(f"{state}-shm")):
        if candidate.is_file():
            found.add(candidate)
    return sorted(found)


def running(listeners: tuple[Listener, ...]) -> Listener | None:
    """The first of the processes' ports that something listens on."""
    return next(
        (one for one in listeners if bind_problem(one.host, one.port) == "already in use"), None
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m launcher.reset_data",
        description="Delete the conversations, customers, claims and the Slack bridge's state "
        "(PARLANT_HOME's databases and BRIDGE_STATE_PATH); keep the operator token, .env and "
        "Parlant's caches. Refused while the agent or the bridge runs.",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        env = EnvReader()
        agent, bridge = AgentSettings.from_env(env), BridgeSettings.from_env(env)
    except SettingsError as error:
        print(f"reset-data: configuration error: {error}", file=sys.stderr)
        return 2
    busy = running((*agent.listeners, *bridge.listeners))
    if busy is not None:
        print(
            f"reset-data: {busy.what} seems to be running (port {busy.port}, {busy.setting}, "
            "is in use); stop `make run` first",
            file=sys.stderr,
        )
        return 1
    files = data_files(agent, bridge)
    if not files:
        print("reset-data: no data to delete")
        return 0
    print("reset-data will delete:\n" + "\n".join(f"  {path}" for path in files))
    if not args.yes:
        answer = input("Delete these files? [y/N] ").strip().lower() if sys.stdin.isatty() else ""
        if answer not in ("y", "yes"):
            print(
                "reset-data: nothing deleted (`make reset-data YES=1`, or --yes, skips this question)"
            )
            return 1
    for path in files:
        path.unlink(missing_ok=True)
    print(f"reset-data: deleted {len(files)} files; the operator token and caches are kept")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
