"""The agent's language-model side, one module per job: the offline NLP service and its policy
answers, the start-up check of a real LLM (and of each supported service), the tokenizer files
Parlant needs offline, the bounds on every AI turn, and what each model request cost.

A new LLM provider starts here: its start-up check in `service_checks.py`, its settings in
agent/settings.py (docs/llm.md)."""
