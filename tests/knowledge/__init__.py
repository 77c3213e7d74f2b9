"""Knowledge-base fixtures: a fictional vendor's documents in every format read, and questions."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent.parent / "examples" / "knowledge" / "routewise"  # the shipped example
CORRUPT_PDF = HERE / "broken" / "corrupt.pdf"
QUESTIONS = HERE / "questions.yaml"
# Every document in DOCS, by its source name.
SOURCES = frozenset(
    {"features.md", "help/support.txt", "integrations.html", "onboarding.txt", "pricing.md", "security.pdf"}
)
