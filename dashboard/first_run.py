"""The first manager of a fresh install, through a one-time link that `rapport up` prints.

Without it a newcomer meets a sign-in form nobody can pass until they find `rapport manager add`.
The link is as strong as sign-in: its token is random and printed only to the terminal of the
machine that runs `rapport up`; it works from that machine (loopback) only, once, for an hour,
and only while the dashboard has no manager at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FirstRun"]

LIFETIME_S = 3600.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class FirstRun:
    """One link's token (kept as its hash) and until when it may be used."""

    digest: str
    expires_at: float
    clock: Callable[[], float] = time.monotonic
    used: bool = False

    @classmethod
    def create(cls, clock: Callable[[], float] = time.monotonic) -> tuple[FirstRun, str]:
        """A new link's state, and the token to print (shown once, never stored)."""
        token = secrets.token_urlsafe(24)
        return cls(_digest(token), clock() + LIFETIME_S, clock), token

    def admits(self, token: str) -> bool:
        fresh = not self.used and self.clock() < self.expires_at
        return fresh and hmac.compare_digest(_digest(token), self.digest)
