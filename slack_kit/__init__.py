"""What the agent's handoff tool and the Slack bridge both need: Slack settings, routing,
masking, Slack text and Block Kit, message metadata, the Slack caller and the root message."""
