"""Go-style durations as podman and docker print and take them (`30s`, `1m30s`, `500ms`)."""

from __future__ import annotations

import re
from typing import Any

DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
UNITS_NS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6}


def parse_duration(value: Any) -> int:
    """`30s`, `1m30s`, `500ms`, `2h` or a number of seconds -> nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r}: a duration is not negative")
        return round(value * 10**9)
    text = str(value).strip()
    if text == "0":
        return 0
    pos, total = 0, 0.0
    for m in DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m[1]) * UNITS_NS[m[2]]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration: e.g. 30s, 1m30s, 500ms, 2h")
    return round(total)


def format_duration(ns: int) -> str:
    """Nanoseconds -> `1h2m3s`, `1m30s`, `500ms`, `0s` (the way Go prints durations, without fractions of s)."""
    if ns % 10**9:
        return f"{ns // 10**6}ms"
    seconds = ns // 10**9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return out or "0s"
