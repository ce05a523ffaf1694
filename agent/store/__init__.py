"""The agent's stores, one module per port and one per backend beside it: Parlant's sessions
(`sqlite_documents`, `postgres_documents`, chosen from the URL in `session_stores`), the
open-handoff index and feed (`escalations` and its `sqlite_`/`postgres_` implementations), the
claims (`claims`, `postgres_claims`), canned replies, the usage book, and what replicas need to
share one database (`event_offsets`, `session_locks`, `change_feed`)."""
