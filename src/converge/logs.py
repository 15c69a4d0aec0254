"""Logging setup: structlog, JSON lines when not on a terminal, readable lines on one.

structlog (and the rich it loads for tracebacks) costs a fifth of a second to import here, and
most commands never log a line: loggers come from `get_logger`, which imports structlog on the
first line logged, and `configure` waits for that moment too."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

_pending: tuple[TextIO, bool | None] | None = None
_level: int | None = None  # what configure() set; None: structlog's defaults, which print everything


def debugging() -> bool:
    """Would a debug line be printed? (to skip building one that would not)"""
    return _level is None or _level <= logging.DEBUG


def configure(stream: TextIO | None = None, json: bool | None = None) -> None:
    global _pending, _level
    _pending = (stream or sys.stderr, json)
    _level = logging.DEBUG if os.environ.get("CONVERGE_DEBUG") else logging.INFO
    if "structlog" in sys.modules:  # already loaded: nothing to save by waiting
        _apply()


def _apply() -> None:
    global _pending
    if _pending is None:
        return
    import structlog

    stream, json = _pending
    _pending = None
    as_json = (not stream.isatty()) if json is None else json
    level = logging.DEBUG if os.environ.get("CONVERGE_DEBUG") else logging.INFO
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream), cache_logger_on_first_use=False)


class LazyLogger:
    """A structlog logger that imports structlog when a line is first logged."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import structlog

        _apply()
        return getattr(structlog.get_logger(self._name), attr)


def get_logger(name: str) -> Any:
    return LazyLogger(name)
