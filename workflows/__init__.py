"""Temporal workflows: deterministic orchestration only; all I/O lives in `activities/`."""
