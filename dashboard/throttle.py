"""Sign-in throttling: a password guess costs a 16 MiB scrypt, so guesses are few per account and
per address.

An attempt is counted before its password is checked (concurrent guesses cannot all slip under
the limit) and given back when it succeeds: only failures add up, and a manager who types the
password right is never held back by an earlier success.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SignInThrottle", "Throttle"]

# Keys remembered at most: an attacker inventing emails cannot grow memory without bound (the
# address limit still holds them back).
_MAX_KEYS = 10_000


@dataclass
class Throttle:
    """At most `limit` counted attempts per key within any `window_s` seconds."""

    limit: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _attempts: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def attempt(self, key: str) -> float | None:
        """Count an attempt for `key`; if it is over the limit, count nothing and return the seconds
        until one is allowed."""
        now = self.clock()
        times = self._attempts.pop(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        self._attempts[key] = times  # the most recently used key goes last, evicted last
        if len(times) >= self.limit:
            return times[0] + self.window_s - now
        times.append(now)
        if len(self._attempts) > _MAX_KEYS:
            self._attempts.popitem(last=False)
        return None

    def give_back(self, key: str) -> None:
        """The last attempt counted for `key` succeeded: it does not count."""
        times = self._attempts.get(key)
        if times:
            times.pop()


@dataclass(frozen=True)
class SignInThrottle:
    """Failed sign-ins per account (the email as typed, case aside) and per client address."""

    accounts: Throttle
    addresses: Throttle

    @classmethod
    def create(
        cls, per_account: int, per_address: int, window_s: float, clock: Callable[[], float]
    ) -> SignInThrottle:
        return cls(Throttle(per_account, window_s, clock), Throttle(per_address, window_s, clock))

    def attempt(self, email: str, address: str) -> float | None:
        """Count a sign-in attempt; None if allowed, else the seconds to wait (nothing counted)."""
        account = email.strip().lower()
        wait = self.accounts.attempt(account)
        if wait is not None:
            return wait
        wait = self.addresses.attempt(address)
        if wait is not None:
            self.accounts.give_back(account)
        return wait

    def succeeded(self, email: str, address: str) -> None:
        self.accounts.give_back(email.strip().lower())
        self.addresses.give_back(address)
