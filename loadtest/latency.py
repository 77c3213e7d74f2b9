"""Latency distributions for the fakes, written on the command line as `KIND:PARAMS` in ms.

- `350` or `fixed:350`: always 350 ms;
- `lognormal:400:0.3`: median 400 ms, sigma 0.3 (the shape of network service latency: a floor-ish
  bulk and a long right tail);
- `uniform:200:600`: anywhere from 200 to 600 ms.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["Latency", "LatencyError"]

Kind = Literal["fixed", "lognormal", "uniform"]


class LatencyError(ValueError):
    """A latency spec that does not parse; the message shows the accepted forms."""


@dataclass(frozen=True)
class Latency:
    """A distribution of delays in ms; `draw` takes its randomness from the caller's generator."""

    kind: Kind
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Latency:
        parts = spec.strip().split(":")
        try:
            numbers = [float(p) for p in parts[1:]] if len(parts) > 1 else [float(parts[0])]
        except ValueError:
            raise LatencyError(_usage(spec)) from None
        kind = parts[0] if len(parts) > 1 else "fixed"
        if kind == "fixed" and len(numbers) == 1 and numbers[0] >= 0:
            return cls("fixed", numbers[0])
        if kind == "lognormal" and len(numbers) == 2 and numbers[0] > 0 and numbers[1] >= 0:
            return cls("lognormal", numbers[0], numbers[1])
        if kind == "uniform" and len(numbers) == 2 and 0 <= numbers[0] <= numbers[1]:
            return cls("uniform", numbers[0], numbers[1])
        raise LatencyError(_usage(spec))

    def draw(self, rng: random.Random) -> float:
        """One delay in ms."""
        match self.kind:
            case "fixed":
                return self.a
            case "lognormal":
                return self.a * math.exp(rng.gauss(0.0, self.b))
            case "uniform":
                return rng.uniform(self.a, self.b)

    def __str__(self) -> str:
        match self.kind:
            case "fixed":
                return f"fixed:{self.a:g}"
            case _:
                return f"{self.kind}:{self.a:g}:{self.b:g}"


def _usage(spec: str) -> str:
    return f"latency {spec!r}: use MS, fixed:MS, lognormal:MEDIAN_MS:SIGMA or uniform:LOW_MS:HIGH_MS"
