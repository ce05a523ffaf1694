"""Which channel an escalation goes to: rules on the reason, the journey or a session label.

`SLACK_ROUTES` lists rules tried in order, first match wins, else the default channel
(`SLACK_ESCALATION_CHANNEL`):

    journey:File an Insurance Claim=C0CLAIMS; reason:claim=C0CLAIMS; label:vip=C0VIP

- `reason:<text>` matches when the handoff reason contains the text (case-insensitive);
- `journey:<title>` matches the journey the conversation was in (handoff packet), by title,
  case-insensitive;
- `label:<label>` matches a Parlant session label exactly.

Pure: the agent's handoff tool and the bridge's pending-post path route with the same function,
so a handoff retried by the bridge lands where the tool would have put it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from handoff.packet import journey_title

RuleKind = Literal["reason", "journey", "label"]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]+$")
EXAMPLE = "journey:File an Insurance Claim=C0CLAIMS; reason:policy=C0POLICY; label:vip=C0VIP"


class RoutesError(ValueError):
    """A malformed rule; the message says which and how to write it."""


def is_channel_id(value: str) -> bool:
    return CHANNEL_ID.match(value) is not None


@dataclass(frozen=True)
class RouteRule:
    kind: RuleKind
    value: str
    channel: str

    def matches(self, record: Mapping[str, Any], labels: Iterable[str]) -> bool:
        if self.kind == "reason":
            return self.value.casefold() in str(record.get("reason") or "").casefold()
        if self.kind == "journey":
            title = journey_title(record)
            return title is not None and title.strip().casefold() == self.value.casefold()
        return self.value in set(labels)


@dataclass(frozen=True)
class Routes:
    rules: tuple[RouteRule, ...]
    default: str

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel an escalation can land in, the default first, each once."""
        return tuple(dict.fromkeys([self.default, *(r.channel for r in self.rules)]))

    def route(self, record: Mapping[str, Any], labels: Iterable[str] = ()) -> str:
        labels = tuple(labels)
        return next((r.channel for r in self.rules if r.matches(record, labels)), self.default)


def parse_rule(text: str) -> RouteRule:
    kind, colon, rest = text.partition(":")
    value, equals, channel = rest.rpartition("=")
    kind, value, channel = kind.strip().lower(), value.strip(), channel.strip()
    if not colon or not equals or kind not in RULE_KINDS or not value:
        raise RoutesError(
            f"rule {text.strip()!r} is malformed; write kind:value=CHANNEL_ID with kind one of "
            f"{', '.join(RULE_KINDS)}, rules separated by ';' (e.g. {EXAMPLE})"
        )
    if not is_channel_id(channel):
        raise RoutesError(
            f"rule {text.strip()!r} routes to {channel!r}, which is not a channel id; "
            "use the channel's id like C0123ABCD (channel details → About)"
        )
    return RouteRule(kind=kind, value=value, channel=channel)  # type: ignore[arg-type]


def parse_routes(raw: str, default: str) -> Routes:
    rules = tuple(parse_rule(part) for part in raw.split(";") if part.strip())
    return Routes(rules=rules, default=default)
