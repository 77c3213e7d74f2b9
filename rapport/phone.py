"""Callers' phone numbers in one form, E.164 (`+15555550101`), whatever way they were written."""

from __future__ import annotations

import re

__all__ = ["InvalidNumber", "to_e164"]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SEPARATORS = re.compile(r"[\s().\-]")


class InvalidNumber(ValueError):
    """Not a phone number in international form."""


def to_e164(number: str) -> str:
    """`+1 (555) 555-0101` → `+15555550101`; InvalidNumber if it is not international."""
    compact = _SEPARATORS.sub("", number.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.match(compact):
        # The number itself stays out of the message: messages end up in logs.
        raise InvalidNumber("a phone number must be international: + and 7 to 15 digits")
    return compact
