"""Logging setup: structlog, JSON lines when not on a terminal, readable lines on one."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog


def configure(stream: TextIO | None = None, json: bool | None = None) -> None:
    stream = stream or sys.stderr
    as_json = (not stream.isatty()) if json is None else json
    level = logging.DEBUG if os.environ.get("CONVERGE_DEBUG") else logging.INFO
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream), cache_logger_on_first_use=False)
