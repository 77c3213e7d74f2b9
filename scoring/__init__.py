"""Post-call scoring: exact metrics from a call's events, and rubrics judged by the LLM."""
