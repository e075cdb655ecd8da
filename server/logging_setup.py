"""Process-wide logging: JSON lines in production, readable text in development; only
`CONTEXT_FIELDS` of a record's extras are ever emitted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

# Structured fields a record may carry (via `extra=` or the request context) and that the
# formatters print. Nothing outside this list is emitted: no headers, no bodies, no PII.
CONTEXT_FIELDS = (
    "request_id",
    "method",
    "route",
    "status",
    "latency_ms",
    "program_id",
    "promoter_id",
    "subject",
    "job",
    "job_status",
)

SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets")

# The id of the request being handled by the current task, for lines logged while serving it.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fenxiao_request_id", default=None
)


class RequestContextFilter(logging.Filter):
    """Stamps the current request id on records that do not carry one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: getattr(record, name)
        for name in CONTEXT_FIELDS
        if getattr(record, name, None) is not None
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message and the context fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a context value of an unexpected type must not lose the line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value …` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_of(record)
        if not context:
            return line
        head, newline, rest = line.partition("\n")
        suffix = " ".join(f"{key}={value}" for key, value in context.items())
        return f"{head} {suffix}{newline}{rest}"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stderr, looked up at each record (pytest swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        # StreamHandler assigns the stream in __init__ and setStream; the lookup above wins.
        pass


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` routing the root and Sanic's loggers to one stream."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": RequestContextFilter}},
        "formatters": {"fenxiao": {"()": formatter}},
        "handlers": {
            "console": {
                # stderr is unbuffered: lines reach a log file or journald as they happen.
                "()": StderrHandler,
                "formatter": "fenxiao",
                "filters": ["request_context"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
        # Sanic's loggers lose their own handlers and flow into the root one.
        "loggers": {
            name: {"level": "INFO", "handlers": [], "propagate": True} for name in SANIC_LOGGERS
        },
    }


# WeChat's APIs carry the app secret, access tokens and login codes in query strings, and
# urllib3 (under wechatpy and requests) logs every URL it fetches at DEBUG.
URL_LOGGERS = ("urllib3", "requests")


def quiet_url_loggers() -> None:
    """Keep the HTTP client libraries' URL logging off, whatever LOG_LEVEL says."""
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(*, log_format: str, level: str) -> None:
    """Install the process-wide logging configuration."""
    logging.config.dictConfig(logging_config(log_format=log_format, level=level))
    quiet_url_loggers()
