"""Structured logs with the request id bound through contextvars.

JSON lines for log collectors by default; readable console lines in development (PORTAL_ENV=development
with PORTAL_LOG_JSON unset), where a person reads them in the terminal of `portal run`.
"""

from __future__ import annotations

import logging
import sys

import structlog

from core.settings import get_settings


def configure_logging() -> None:
    settings = get_settings()
    level = logging.getLevelName(settings.log_level.upper())
    # ensure_ascii=False: Chinese stays readable in the JSON lines too.
    final: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(ensure_ascii=False)]
        if settings.log_as_json
        else [structlog.dev.ConsoleRenderer()]  # renders tracebacks itself (format_exc_info would flatten them)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *final,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if settings.env == "development" and not settings.log_as_json and level == logging.INFO:
        # `portal run`'s terminal: arq logs two lines per job, and the crons (outbox sweep every 15 s)
        # scrolled the banner with the demo logins away within a minute. Failures still show (WARNING
        # and up); PORTAL_LOG_LEVEL=DEBUG brings every job line back.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
