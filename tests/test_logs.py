"""Logs: JSON lines when not on a terminal."""

from __future__ import annotations

import io
import json

import structlog

from converge.logs import configure


def test_json_lines_off_a_terminal():
    out = io.StringIO()
    configure(out)
    try:
        structlog.get_logger("t").info("reconcile", trigger="save", applied=["dataset/tank/a"])
    finally:
        structlog.reset_defaults()
    line = json.loads(out.getvalue())
    assert line["event"] == "reconcile" and line["trigger"] == "save" and line["applied"] == ["dataset/tank/a"]
    assert line["level"] == "info" and line["timestamp"].endswith("Z")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_readable_lines_on_a_terminal():
    out = Terminal()
    configure(out)
    try:
        structlog.get_logger("t").warning("invalid", trigger="save", issues=["main.yaml:4:29: bad"])
    finally:
        structlog.reset_defaults()
    line = out.getvalue()
    assert not line.startswith("{") and "[warning  ] invalid" in line and "trigger=save" in line
    assert "main.yaml:4:29: bad" in line and "\x1b[" not in line  # no colour codes in a captured terminal


def test_every_module_logs_through_logs_get_logger():
    """A module-level `structlog.get_logger` logs with structlog's defaults (to stdout) when it is
    the first to log: a warning then broke `plan --json` (found by the real LXC test)."""
    import pathlib

    src = pathlib.Path(__file__).resolve().parents[1] / "src" / "converge"
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py")
                 if p.name != "logs.py" and "structlog.get_logger" in p.read_text()]
    assert offenders == []
