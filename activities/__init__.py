"""Temporal activities: the I/O a workflow asks for (the event store, and later CRM and scoring)."""
