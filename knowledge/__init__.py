"""Knowledge bases: documents read into sections, cut into chunks, embedded and searched.

Importing this package (or `knowledge.index`) loads no model: torch and sentence-transformers
are imported the first time a question or a chunk is embedded (`knowledge.embedding`).
"""
