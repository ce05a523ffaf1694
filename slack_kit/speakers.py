"""Who said a message, as Slack shows it. Pure."""

from __future__ import annotations


def speaker_label(
    source: str,
    participant_name: str | None,
    operator_name: str | None,
    origin: str | None,
    *,
    page_opening: bool = False,
    not_sent_notice: bool = False,
) -> str:
    """Who said it, unescaped: "Customer (Ann)", "AI agent", "Dana (dashboard)", ...

    `origin` is where an operator acted (handoff.actions.Operator.origin); `page_opening` marks
    the chat page's opening message, posted in the agent's voice by the customer's browser
    (handoff.actions.is_page_opening), and `not_sent_notice` the agent's own notice that the
    widget's first message was not sent (handoff.actions.is_not_sent_notice): no operator wrote
    either.
    """
    where = f" ({origin})" if origin else ""
    person = (operator_name or participant_name or "").strip() or "An operator"
    if source == "customer":
        name = (participant_name or "").strip()
        return f"Customer ({name})" if name else "Customer"
    if source == "ai_agent":
        return "AI agent"
    if source == "human_agent":
        return f"{person}{where}"
    if source == "human_agent_on_behalf_of_ai_agent":
        if page_opening:
            return "AI agent (the chat page's opening)"
        if not_sent_notice:
            return "AI agent (notice: a message was not sent)"
        return f"{person} as the AI{where}"
    return source
