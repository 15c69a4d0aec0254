"""The common subset of systemd.time(7) calendar events, parsed and stepped in UTC.

Supported: the shorthands (minutely, hourly, daily, weekly, monthly, quarterly, semiannually,
yearly/annually) and `[WEEKDAYS] [YEAR-MONTH-DAY] [HOUR:MINUTE[:SECOND]]`, each component `*`, a
number, a range `a..b`, a repetition `a/step` (or `a..b/step`) and comma lists of those; weekdays
as names (Mon, Monday), lists and ranges (Mon..Fri). Not supported (refused with a clear message):
time zones, `~` (days from the month's end), fractional seconds. converge renders timers with an
explicit ` UTC`, so what `next_run` computes is what `systemd-analyze calendar` prints."""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SHORTHANDS = {
    "minutely": "*-*-* *:*:00", "hourly": "*-*-* *:00:00", "daily": "*-*-* 00:00:00",
    "weekly": "Mon *-*-* 00:00:00", "monthly": "*-*-01 00:00:00", "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00", "yearly": "*-01-01 00:00:00", "annually": "*-01-01 00:00:00",
}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES = {d: i for i, d in enumerate(DAYS)} | {
    n: i for i, n in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
LIMITS = {"year": (1970, 2199), "month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59),
          "second": (0, 59)}


class CalendarError(ValueError):
    pass


@dataclass(frozen=True)
class Calendar:
    text: str  # as written
    weekdays: frozenset[int]  # 0 = Monday
    years: frozenset[int] | None  # None: any
    months: frozenset[int]
    days: frozenset[int]
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]

    def next_run(self, after: datetime) -> datetime | None:
        """The first time strictly after `after` (UTC) that matches; None if never (within 200 years)."""
        after = after.astimezone(UTC).replace(microsecond=0)
        day = after.date()
        start = (after.hour, after.minute, after.second + 1)
        for _ in range(366 * 200):
            if self._date_matches(day):
                t = self._first_time(start)
                if t is not None:
                    return datetime(day.year, day.month, day.day, *t, tzinfo=UTC)
            day += timedelta(days=1)
            start = (0, 0, 0)
            if self.years is not None and day.year > max(self.years):
                return None
        return None

    def _date_matches(self, d: object) -> bool:
        from datetime import date

        assert isinstance(d, date)
        return (d.weekday() in self.weekdays and d.month in self.months and d.day in self.days
                and (self.years is None or d.year in self.years))

    def _first_time(self, start: tuple[int, int, int]) -> tuple[int, int, int] | None:
        """The smallest (h, m, s) >= start; a second of 60 carries over."""
        for h in self.hours:
            if h < start[0]:
                continue
            for m in self.minutes:
                if h == start[0] and m < start[1]:
                    continue
                for s in self.seconds:
                    if (h, m) == start[:2] and s < start[2]:
                        continue
                    return h, m, s
        return None


def _numbers(text: str, field: str) -> frozenset[int]:
    lo, hi = LIMITS[field]
    out: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\*|\d+)(?:\.\.(\d+))?(?:/(\d+))?", part)
        if not m:
            raise CalendarError(f"{field} {part!r}: expected *, a number, a range a..b or a repetition a/step")
        first, last, step = m.group(1), m.group(2), m.group(3)
        if first == "*" and last is not None:
            raise CalendarError(f"{field} {part!r}: a range needs two numbers")
        if first == "*" and step is not None:
            raise CalendarError(f"{field} {part!r}: write a repetition as START/STEP (e.g. 0/15), not */STEP")
        a = lo if first == "*" else int(first)
        b = hi if (first == "*" or step is not None) and last is None else int(last) if last else a
        if not (lo <= a <= hi and lo <= b <= hi) or b < a:
            raise CalendarError(f"{field} {part!r}: out of range {lo}..{hi}")
        n = int(step) if step else 1
        if n < 1:
            raise CalendarError(f"{field} {part!r}: a repetition step is at least 1")
        out.update(range(a, b + 1, n))
    return frozenset(out)


def _weekdays(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        ends = part.split("..")
        if len(ends) > 2 or any(e.lower() not in DAY_NAMES for e in ends):
            raise CalendarError(f"weekday {part!r}: expected Mon..Sun (or a list/range of them)")
        a, b = DAY_NAMES[ends[0].lower()], DAY_NAMES[ends[-1].lower()]
        if b < a:  # as systemd: a range does not wrap past Sunday
            raise CalendarError(f"weekday range {part!r} runs backwards: write it as a list (Fri..Sun,Mon)")
        out.update(range(a, b + 1))
    return frozenset(out)


def parse(text: str) -> Calendar:
    """A calendar event -> Calendar; CalendarError says what is wrong and what is allowed."""
    original = text
    text = " ".join(str(text).split())
    if not text:
        raise CalendarError("empty calendar event")
    text = SHORTHANDS.get(text.lower(), text)
    words = text.split(" ")
    weekdays = frozenset(range(7))
    if words and re.match(r"[A-Za-z]", words[0]):
        weekdays = _weekdays(words.pop(0))
    date_part = next((w for w in words if "-" in w), None)
    time_part = next((w for w in words if ":" in w), None)
    rest = [w for w in words if w not in (date_part, time_part)]
    if rest:
        what = "time zones are not supported (converge runs timers in UTC)" if re.match(r"[A-Za-z]", rest[0]) \
            else "expected [WEEKDAY] [YEAR-MONTH-DAY] [HOUR:MINUTE[:SECOND]]"
        raise CalendarError(f"{' '.join(rest)!r}: {what}")
    if "~" in text:
        raise CalendarError("'~' (days counted from the end of the month) is not supported")
    years: frozenset[int] | None = None
    months, days = frozenset(range(1, 13)), frozenset(range(1, 32))
    if date_part is not None:
        parts = date_part.split("-")
        if len(parts) == 2:
            parts = ["*", *parts]
        if len(parts) != 3:
            raise CalendarError(f"date {date_part!r}: expected YEAR-MONTH-DAY or MONTH-DAY (* for any)")
        if parts[0] != "*":
            years = _numbers(parts[0], "year")
        months, days = _numbers(parts[1], "month"), _numbers(parts[2], "day")
    hours: frozenset[int] = frozenset({0})
    minutes: frozenset[int] = frozenset({0})
    seconds: frozenset[int] = frozenset({0})
    if time_part is not None:
        parts = time_part.split(":")
        if len(parts) not in (2, 3):
            raise CalendarError(f"time {time_part!r}: expected HOUR:MINUTE or HOUR:MINUTE:SECOND")
        if any("." in p.replace("..", "") for p in parts):
            raise CalendarError(f"time {time_part!r}: fractional seconds are not supported")
        hours, minutes = _numbers(parts[0], "hour"), _numbers(parts[1], "minute")
        seconds = _numbers(parts[2], "second") if len(parts) == 3 else frozenset({0})
    if not any(d <= _cal.monthrange(2000, m)[1] for m in months for d in days):  # 2000: a leap year
        raise CalendarError(f"{original!r} never matches a real date")
    return Calendar(str(original), weekdays, years, months, days, tuple(sorted(hours)), tuple(sorted(minutes)),
                    tuple(sorted(seconds)))
