"""The handoff record shared by the agent, the Slack bridge and the dashboard."""
