"""The supervisors' dashboard: queue, transcripts, stepping in and handoff insights (Streamlit)."""
