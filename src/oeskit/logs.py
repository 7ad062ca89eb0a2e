"""How `oeskit serve` writes its log: text for people, or JSON for collectors (one object per
line: time, level, logger, message and, for a request, requestId, method, route, status,
durationMs and rule). The configuration is a `logging.config.dictConfig` mapping that uvicorn
applies in the server process and in each worker.

A record never carries a token, key or signature: request lines name the templated route, not
the path, and never a header or body; `JsonFormatter` also masks the secrets it is given (the
admin token) wherever they would appear.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

LEVELS = ("critical", "error", "warning", "info", "debug")
FORMATS = ("text", "json")
MASK = "***"
# Attributes a record may carry (`extra=`) that a JSON line keeps.
FIELDS = ("requestId", "method", "route", "status", "durationMs", "rule")
_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "oeskit")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def __init__(self, redact: Sequence[str] = ()) -> None:
        super().__init__()
        self.redact = tuple(secret for secret in redact if secret)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:  # a request line has them all (rule: null when none applied)
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        text = orjson.dumps(line, default=str).decode()
        for secret in self.redact:
            text = text.replace(secret, MASK)
        return text


def default_level(log_format: str) -> str:
    """The level when none is asked for: JSON logs are for collectors and include a line per
    request (INFO); text stays quiet (WARNING)."""
    return "info" if log_format == "json" else "warning"


def config(log_format: str, level: str, redact: Sequence[str] = ()) -> dict[str, Any]:
    """The dictConfig mapping for uvicorn's `log_config`: uvicorn's loggers and ours, one
    handler. Text goes to stderr in uvicorn's style; JSON to stdout, the stream collectors read."""
    if log_format == "json":
        formatter: dict[str, Any] = {"()": "oeskit.logs.JsonFormatter", "redact": list(redact)}
        stream = "ext://sys.stdout"
    else:
        formatter = {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        }
        stream = "ext://sys.stderr"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {
            "main": {"class": "logging.StreamHandler", "formatter": "main", "stream": stream}
        },
        "loggers": {
            name: {"handlers": ["main"], "level": level.upper(), "propagate": False}
            for name in _LOGGERS
        },
    }


def redact_url(url: str) -> str:
    """A database URL without its password (`postgresql://user:***@host/db`), for logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{user}{':' + MASK if colon else ''}@{host}"
