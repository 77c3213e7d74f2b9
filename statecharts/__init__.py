"""Statechart definitions and the one pipeline that loads them.

parse (YAML with line numbers) → records (typed, frozen) → checks (FILE:LINE:COL) → build
(a `transitions` machine whose guards and actions come from a registry in code).
"""
