"""Statechart definitions and the one pipeline that loads them.

parse (YAML with line numbers) → schema (`schema.json`, FILE:LINE:COL) → records (typed,
frozen, nested states included) → checks (FILE:LINE:COL) → build (a `transitions` hierarchical
machine whose guards and actions come from a registry in code).
"""
