"""structlog configuration: JSON lines in the full stack, readable console output by default."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

_SERVICE = {"name": "shop"}
# uvicorn's `--log-config` file: its own lines (parent process, workers' start-up) through `log_handler`.
UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn_log.json")


def set_service_name(name: str) -> None:
    _SERVICE["name"] = name


def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("service", _SERVICE["name"])
    return event_dict


def add_trace_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Every line carries the current OpenTelemetry trace and span ids, so logs link to traces."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        add_trace_context,
    ]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _final_processors(log_format: str) -> list[Processor]:
    if log_format == "json":
        return [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=False)]


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of every line: structlog's events and any library's stdlib records alike."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_final_processors(log_format)],
        foreign_pre_chain=shared_processors(),
    )


def log_handler() -> logging.Handler:
    """The processes' log handler (stderr, as Django's): shopkit's formatter, LOG_FORMAT and LOG_LEVEL.

    For logging configurations that can only name a factory, such as uvicorn's `--log-config` file
    (shopkit/uvicorn_log.json); Django processes get the same from `logging_config`.
    """
    from shopkit.settings import env

    handler = logging.StreamHandler()
    handler.setFormatter(formatter(env.str("LOG_FORMAT", default="console")))
    handler.setLevel(env.str("LOG_LEVEL", default="INFO").upper())
    return handler


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """A `LOGGING` dict: every stdlib and structlog record goes through one renderer to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {"()": formatter, "log_format": log_format},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "structlog"},
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # gunicorn's and uvicorn's own lines (start-up, workers, signals) through the same handler;
            # configuring them here also drops the plain-text handler gunicorn gives its error log.
            "gunicorn.error": {"level": level, "propagate": True},
            "uvicorn": {"level": level, "propagate": True},
            # Request lines come from django-structlog; Django's own would repeat them.
            "django.request": {"level": "CRITICAL", "propagate": True},
            "django.server": {"level": "WARNING", "propagate": True},
            "django.db.backends": {"level": "INFO", "propagate": True},
            "django_structlog": {"level": level, "propagate": True},
            "gunicorn.access": {"level": "WARNING", "propagate": True},
            "uvicorn.access": {"level": "WARNING", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},
            "httpcore": {"level": "WARNING", "propagate": True},
            "opentelemetry": {"level": "ERROR", "propagate": True},
        },
    }


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


__all__ = [
    "configure_structlog",
    "formatter",
    "get_logger",
    "logging",
    "logging_config",
    "set_service_name",
    "log_handler",
    "UVICORN_LOG_CONFIG",
]
