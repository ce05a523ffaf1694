"""The Slack bridge: escalation threads in Slack, kept in step with Parlant sessions."""
