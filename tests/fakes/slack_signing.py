"""What Slack sends to an app: payload shapes, the IDs they carry, and signed HTTP requests.

The fake Slack wraps the same payloads in Socket Mode envelopes, so HTTP-mode and Socket-Mode tests
exercise identical bodies. Shapes follow Slack's documented Events API and interactivity payloads.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

# Defaults shared by the fake and the builders, so a payload built here matches the workspace the
# fake answers for (Bolt compares team and bot IDs from auth.test with those in events).
TEAM_ID = "T0FAKETEAM"
TEAM_DOMAIN = "fake-workspace"
APP_ID = "A0FAKEAPP"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
VERIFICATION_TOKEN = "fake-verification-token"


class _TsClock:
    """Slack message timestamps: wall-clock microseconds, strictly increasing, unique per process."""

    def __init__(self) -> None:
        self._lock = (
            threading.Lock()
        )  # sync tests build payloads on threads other than the fake's loop
        self._last_us = 0

    def __call__(self) -> str:
        with self._lock:
            self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
            micros = self._last_us
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


new_ts = _TsClock()
_event_ids = itertools.count(1)


def new_trigger_id() -> str:
    """A trigger_id as a click makes one: it carries its issue time in milliseconds, from which
    the fake Slack tells whether it expired (Slack's expire 3 seconds after the click)."""
    return f"{time.time_ns() // 1_000_000}.{next(_event_ids)}.fake"


def trigger_issued_at(trigger_id: str) -> float | None:
    """When `new_trigger_id` made this trigger (epoch seconds), or None if it did not make it."""
    millis, _, rest = trigger_id.partition(".")
    if not millis.isdigit() or not rest.endswith(".fake"):
        return None
    return int(millis) / 1000


def new_event_id() -> str:
    return f"Ev{int(time.time())}{next(_event_ids):06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Orders Slack timestamps exactly; float() would round 16 significant digits."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def message_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
    channel_type: str = "channel",
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The `event` of a `message` event, as a human (or, with bot_id, another bot) posted it."""
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": team_id,
        "channel_type": channel_type,
    }
    optional = {
        "thread_ts": thread_ts,
        "parent_user_id": parent_user_id,
        "blocks": blocks,
        "bot_id": bot_id,
        "subtype": subtype,
    }
    event.update({key: value for key, value in optional.items() if value is not None})
    return event


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """The Events API body around one event (also the `payload` of a Socket Mode events_api envelope)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": event_time if event_time is not None else int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{team_id}-{event.get('channel', '')}",
    }


def message_event_body(
    *, channel: str, user: str, text: str, event_id: str | None = None, **event_fields: Any
) -> bytes:
    """A JSON Events API request body for one message event; extra fields go to message_event()."""
    event = message_event(channel=channel, user=user, text=text, **event_fields)
    return json.dumps(event_callback(event, event_id=event_id)).encode()


def block_actions_payload(
    *,
    action_id: str,
    user: str,
    channel: str,
    message: dict[str, Any],
    value: str | None = None,
    block_id: str = "actions",
    response_url: str = "https://hooks.slack.com/actions/T0FAKETEAM/1/fake",
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """A block_actions payload for a button click on `message` (which must carry its `ts`)."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id},
        "action_ts": new_ts(),
    }
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


CHOICE_ELEMENTS = frozenset({"radio_buttons", "static_select"})


def _input_state(element: dict[str, Any], text: str) -> dict[str, Any]:
    kind = element.get("type", "plain_text_input")
    if kind not in CHOICE_ELEMENTS:
        return {"type": kind, "value": text}
    option = next((o for o in element.get("options", []) if o.get("value") == text), None)
    if option is None:
        raise LookupError(f"{element.get('action_id')} offers no option {text!r}")
    return {"type": kind, "selected_option": option}


def view_submission_payload(
    *,
    view: dict[str, Any],
    user: str,
    values: dict[str, dict[str, str]],
    selected: dict[str, dict[str, tuple[str, dict[str, Any]]]] | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """A view_submission payload: `user` submits `view` with `values` typed into its inputs
    ({block_id: {action_id: text}}), each sent back as Slack sends its element's state: a text
    input's value, or the option of a choice (radio buttons, a select) whose value is `text`;
    and options chosen in its external menus ({block_id: {action_id: (element type, option)}},
    sent back as `selected_option`)."""
    elements = {
        (block.get("block_id"), (block.get("element") or {}).get("action_id")): block["element"]
        for block in view.get("blocks", [])
        if block.get("type") == "input" and isinstance(block.get("element"), dict)
    }
    state: dict[str, dict[str, Any]] = {
        block_id: {
            action_id: _input_state(elements.get((block_id, action_id)) or {}, text)
            for action_id, text in inputs.items()
        }
        for block_id, inputs in values.items()
    }
    for block_id, menus in (selected or {}).items():
        for action_id, (kind, option) in menus.items():
            state.setdefault(block_id, {})[action_id] = {"type": kind, "selected_option": option}
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def message_action_payload(
    *,
    callback_id: str,
    user: str,
    channel: str,
    message: dict[str, Any],
    response_url: str,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """A message shortcut's payload (type `message_action`): `user` chose the app's shortcut
    `callback_id` in the menu of `message` (which must carry its `ts`)."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": new_ts(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "api_app_id": api_app_id,
        "channel": {"id": channel, "name": channel.lower()},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def block_suggestion_payload(
    *,
    view: dict[str, Any],
    action_id: str,
    block_id: str,
    value: str,
    user: str,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """The options request of an `external_select` in an open modal: `user` typed `value`."""
    return {
        "type": "block_suggestion",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team_id},
        "container": {"type": "view", "view_id": view["id"]},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
    }


def block_actions_body(
    *,
    action_id: str,
    user: str,
    channel: str,
    message_ts: str,
    value: str | None = None,
    message: dict[str, Any] | None = None,
    **fields: Any,
) -> bytes:
    """A form-encoded interactivity request body (`payload=<json>`), as Slack POSTs a button click."""
    payload = block_actions_payload(
        action_id=action_id,
        user=user,
        channel=channel,
        message=message or {"type": "message", "ts": message_ts, "text": ""},
        value=value,
        **fields,
    )
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(
    signing_secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """Headers Slack sends with `body`; pass retry_num to imitate one of Slack's redeliveries."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None  # only None without a timestamp
    headers = {
        # Events arrive as JSON, interactivity as a form with one `payload` field.
        "Content-Type": "application/json"
        if body.startswith(b"{")
        else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers
