"""Checks on what is said in a finished call: the caller's words arrived, the buyer answered in
character. Pure functions over transcripts, for tests and benchmarks; the live reply's guards
use the same rules (`roles`, `text`), so a reply is held to what its call will be judged by."""
