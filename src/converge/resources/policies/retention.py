"""Which snapshots a policy keeps: a pure function of the snapshots' times, the rules and now.

Rules combine as a union (a snapshot is kept if any rule keeps it):
- `keep: N` keeps the N newest;
- `keep_within: 48h` keeps every snapshot taken within that span before now;
- graded `keep: {hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 1}` keeps, for each grade,
  the first (oldest) snapshot of each of the N most recent periods that have one. The first of a
  period is kept (as btrbk does) so a period's representative never changes once taken.
Snapshots dated after now are always kept (a run with an earlier --at never prunes the future)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

GRADES: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "minutely": lambda t: (t.year, t.month, t.day, t.hour, t.minute),
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}
DURATION = re.compile(r"(\d+)([smhdw])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`48h`, `7d`, `1w2d`, `90m` -> timedelta; ValueError says what is allowed."""
    compact = str(text).replace(" ", "")
    if not compact or DURATION.sub("", compact):
        raise ValueError(f"{text!r} is not a duration: digits with a unit s, m, h, d or w (48h, 7d, 1w2d)")
    seconds = sum(int(n) * UNITS[u] for n, u in DURATION.findall(compact))
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration is more than zero")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Rules:
    newest: int = 0
    within: timedelta | None = None
    graded: dict[str, int] = field(default_factory=dict)


def to_keep(snapshots: Iterable[tuple[str, datetime]], rules: Rules, now: datetime) -> set[str]:
    """Names to keep among (name, time) pairs; everything else may be pruned (if otherwise eligible)."""
    items = sorted(snapshots, key=lambda s: (s[1], s[0]), reverse=True)  # newest first
    keep = {name for name, when in items if when > now}
    keep.update(name for name, _ in items[:max(rules.newest, 0)])
    if rules.within is not None:
        keep.update(name for name, when in items if when >= now - rules.within)
    for grade, count in rules.graded.items():
        first_of: dict[tuple[int, ...], str] = {}
        for name, when in items:  # newest first: the last write per period is its oldest snapshot
            first_of[GRADES[grade](when)] = name
        periods = sorted(first_of, reverse=True)[:max(count, 0)]
        keep.update(first_of[p] for p in periods)
    return keep
