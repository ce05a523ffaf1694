"""Test doubles for external services the project cannot reach from here (see fake_slack)."""

from .fake_slack import (
    Ack,
    AckTimeout,
    EphemeralMessage,
    FakeSlack,
    FakeSlackThread,
    Message,
    RecordedCall,
)
from .slack_rate_limits import RateLimits
from .slack_signing import (
    block_actions_body,
    block_actions_payload,
    block_suggestion_payload,
    event_callback,
    message_action_payload,
    message_event,
    message_event_body,
    signed_headers,
    view_submission_payload,
)

__all__ = [
    "Ack",
    "AckTimeout",
    "EphemeralMessage",
    "FakeSlack",
    "FakeSlackThread",
    "Message",
    "RateLimits",
    "RecordedCall",
    "block_actions_body",
    "block_actions_payload",
    "block_suggestion_payload",
    "event_callback",
    "message_action_payload",
    "message_event",
    "message_event_body",
    "signed_headers",
    "view_submission_payload",
]
