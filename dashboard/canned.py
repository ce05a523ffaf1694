"""The canned replies supervisors keep, read and written through the agent, which owns them
(agent/canned_route.py): operators send them from Slack."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dashboard import data
from dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)

PATH = "/escalations/canned-replies"


@dataclass(frozen=True)
class SavedReply:
    id: str
    title: str
    body: str
    category: str
    updated_at: str
    updated_by: str


class NotSaved(Exception):
    """The agent refused the change; the message says what to change, for the supervisor."""


def _reply(item: dict[str, Any]) -> SavedReply:
    return SavedReply(
        str(item["id"]),
        str(item["title"]),
        str(item["body"]),
        str(item.get("category") or ""),
        str(item.get("updated_at") or ""),
        str(item.get("updated_by") or ""),
    )


def saved_replies(settings: DashboardSettings) -> list[SavedReply]:
    """Every reply, by category and title (not cached: a save shows at once)."""
    response = data.agent_http(settings).get(PATH)
    response.raise_for_status()
    return [_reply(item) for item in response.json().get("items", [])]


def save(
    settings: DashboardSettings,
    reply_id: str | None,
    title: str,
    body: str,
    category: str,
    by: str,
) -> SavedReply:
    """Adds a reply (no id) or changes one; NotSaved with the agent's reason when refused."""
    fields = {"title": title, "body": body, "category": category, "by": by}
    http = data.agent_http(settings)
    response = (
        http.post(PATH, json=fields)
        if reply_id is None
        else http.put(f"{PATH}/{quote(reply_id, safe='')}", json=fields)
    )
    if response.status_code == 404:
        raise NotSaved("This reply was deleted meanwhile: add it again.")
    if response.status_code == 422:
        raise NotSaved(str(response.json().get("detail") or "The agent refused it."))
    response.raise_for_status()
    saved = _reply(response.json())
    log.info("canned reply saved id=%s", saved.id)
    return saved


def delete(settings: DashboardSettings, reply_id: str) -> None:
    """Removes a reply; one deleted already (another tab) is gone all the same."""
    response = data.agent_http(settings).delete(f"{PATH}/{quote(reply_id, safe='')}")
    if response.status_code != 404:
        response.raise_for_status()
    log.info("canned reply deleted id=%s", reply_id)
