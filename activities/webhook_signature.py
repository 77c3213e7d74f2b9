"""How a scorecard webhook POST is signed, and how a receiver checks it.

`X-Rapport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>`.
The time is signed with the body, so a captured request cannot be replayed later than
`tolerance_s` after it was sent.
"""

from __future__ import annotations

import hashlib
import hmac

from rapport.settings import Secret

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Rapport-Signature"


def _digest(body: bytes, secret: Secret, at: int) -> str:
    return hmac.new(secret.value.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: Secret, *, at: int) -> str:
    """The header's value for `body` sent at `at` (unix seconds)."""
    return f"t={at},v1={_digest(body, secret, at)}"


def verify(body: bytes, header: str, secret: Secret, *, now: int, tolerance_s: int = 300) -> bool:
    """Whether `header` signs `body` with `secret`, sent within `tolerance_s` of `now`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - at) > tolerance_s:
        return False
    return hmac.compare_digest(fields.get("v1", ""), _digest(body, secret, at))
