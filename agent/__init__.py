"""The insurance support agent: a Parlant server with tools, journeys, guidelines and a handoff."""
