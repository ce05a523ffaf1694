"""Vendors, from Slack's published Web API specification, what the fake Slack holds the code to.

    .venv/bin/python scripts/vendor_slack_spec.py PATH/slack_web_openapi_v2_without_examples.json

Slack's OpenAPI description (slackapi/slack-api-specs, MIT) is 1.4 MB for 174 methods; the fake
needs, for the methods the project calls, each one's verb, accepted encodings and arguments.
Written to tests/fakes/slack_spec/web_api_methods.json with the licence beside it. Methods added
after the spec's last update (2020) are listed in ADDED with Slack's documented shape.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "fakes" / "slack_spec"
METHODS = (
    "apps.connections.open",
    "auth.test",
    "chat.delete",
    "chat.getPermalink",
    "chat.postEphemeral",
    "chat.postMessage",
    "chat.update",
    "conversations.history",
    "conversations.info",
    "conversations.members",
    "conversations.replies",
    "reactions.add",
    "reactions.remove",
    "users.info",
    "views.open",
    "views.update",
)
FORM = "application/x-www-form-urlencoded"
# Not in the 2020 spec: apps.connections.open (Socket Mode, 2021) takes the app-level token and
# no arguments, form-encoded (docs.slack.dev/reference/methods/apps.connections.open).
ADDED: dict[str, dict[str, Any]] = {
    "apps.connections.open": {"verb": "post", "consumes": [FORM], "parameters": []},
}


def method_entry(operations: dict[str, Any]) -> dict[str, Any]:
    ((verb, operation),) = operations.items()
    return {
        "verb": verb,
        "consumes": operation.get("consumes", [FORM]),
        "parameters": [
            {"name": p["name"], "in": p["in"], "required": bool(p.get("required", False))}
            for p in operation.get("parameters", [])
            if p["name"] != "token"
        ],
    }


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    methods = {
        name: ADDED[name] if name in ADDED else method_entry(spec["paths"][f"/{name}"])
        for name in METHODS
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "web_api_methods.json").write_text(json.dumps(methods, indent=1, sort_keys=True) + "\n")
    licence = Path(spec_path).with_name("LICENSE")
    (OUT / "LICENSE").write_text(licence.read_text())
    print(f"wrote {len(methods)} methods to {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vendor_slack_spec.py PATH/slack_web_openapi_v2_without_examples.json")
    main(sys.argv[1])
