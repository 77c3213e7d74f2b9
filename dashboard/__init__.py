"""The sales manager's dashboard: calls, scorecards and who may see them (issue 4)."""
