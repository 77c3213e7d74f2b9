"""Rapport: the application shell (command line, settings, logging)."""
