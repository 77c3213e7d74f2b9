"""Checks on what is said in a finished call: the caller's words arrived, the buyer answered in
character. Pure functions over transcripts, for tests and benchmarks."""
