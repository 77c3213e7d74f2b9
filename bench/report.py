"""docs/benchmarks.md holds one section per benchmark; each run replaces only its own section."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

from rapport.stats import percentile

__all__ = ["RESULTS", "machine_line", "percentile", "write_section"]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_HEADER = "# Benchmarks\n\nEach section is written by the benchmark it names; do not edit by hand.\n"


def machine_line() -> str:
    return (
        f"Run {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} ({platform.node() or 'unknown host'}), no GPU."
    )


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    if not text.startswith("# Benchmarks"):
        text = _HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
