"""The calendar parser: next runs checked against systemd-analyze calendar (real) and recorded cases."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from converge.formats import calendar

EXPRESSIONS = [
    "minutely", "hourly", "daily", "weekly", "monthly", "quarterly", "semiannually", "yearly", "annually",
    "*-*-* 02:00", "02:00", "*-*-* 02:00:30", "Mon..Fri 08:00", "Sat,Sun 03:30:15", "Mon", "Fri..Sun,Mon 23:59",
    "*:0/15", "*:5/20:10", "0/6:00", "4..6:00", "8,12,18:30", "*-*-01 00:00", "*-*-1/3", "*-*-1/3 12:00",
    "*-02-29 12:00", "*-02-28..29 06:00", "2027-*-* 00:00", "2026..2028-06-15 04:05:06", "*-01,07-01",
    "*-12-24..26 18:00", "Sun *-*-1..7 03:00", "Wed *-*-* *:00:00", "*-*-* 00/2:00:00", "*-*-* *:*:0/20",
    "Tue,Thu 1/4:45", "*-5-5", "Monday..Wednesday 10:10", "*-*-31 00:00", "2020-01-01",
]
BASES = ["2026-11-28 09:58:00", "2026-12-31 23:59:59", "2027-02-28 12:00:00", "2028-02-29 06:00:00"]


def _systemd(expr: str, base: str, n: int) -> list[str]:
    out = subprocess.run(["systemd-analyze", "calendar", f"--base-time={base} UTC", f"--iterations={n}",
                          f"{expr} UTC"], capture_output=True, text=True, env={"TZ": "UTC", "LC_ALL": "C"})
    if out.returncode != 0 and "never" not in out.stdout:
        raise AssertionError(f"systemd-analyze refused {expr!r}: {out.stderr}")
    return re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out.stdout)


def _ours(expr: str, base: str, n: int) -> list[str]:
    cal = calendar.parse(expr)
    when = datetime.fromisoformat(base).replace(tzinfo=UTC)
    out = []
    for _ in range(n):
        nxt = cal.next_run(when)
        if nxt is None:
            break
        out.append(nxt.strftime("%Y-%m-%d %H:%M:%S"))
        when = nxt
    return out


@pytest.mark.real
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_next_runs_agree_with_systemd_analyze(expr):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed (Debian package systemd)")
    for base in BASES:
        assert _ours(expr, base, 5) == _systemd(expr, base, 5), (expr, base)


RECORDED = [  # (expression, base, next) from systemd-analyze calendar 252 (TZ=UTC)
    ("hourly", "2026-11-28 09:58:00", "2026-11-28 10:00:00"),
    ("daily", "2026-11-28 09:58:00", "2026-11-29 00:00:00"),
    ("weekly", "2026-11-28 09:58:00", "2026-11-30 00:00:00"),
    ("monthly", "2026-11-28 09:58:00", "2026-12-01 00:00:00"),
    ("quarterly", "2026-11-28 09:58:00", "2027-01-01 00:00:00"),
    ("*-*-* 02:00", "2026-11-28 09:58:00", "2026-11-29 02:00:00"),
    ("Mon..Fri 08:00", "2026-11-28 09:58:00", "2026-11-30 08:00:00"),
    ("*:0/15", "2026-11-28 09:58:00", "2026-11-28 10:00:00"),
    ("*-02-29 12:00", "2026-11-28 09:58:00", "2028-02-29 12:00:00"),
    ("*-*-1/3", "2026-11-28 09:58:00", "2026-12-01 00:00:00"),
    ("4..6:00", "2026-11-28 09:58:00", "2026-11-29 04:00:00"),
]


@pytest.mark.parametrize("expr,base,expected", RECORDED)
def test_recorded_next_runs(expr, base, expected):
    assert _ours(expr, base, 1) == [expected]


@pytest.mark.parametrize("bad,message", [
    ("", "empty"), ("*:*/15", "START/STEP"), ("25:00", "out of range"), ("Mon..Funday", "weekday"),
    ("*-*-* 02:00 Europe/Berlin", "time zones are not supported"), ("*-02-30", "never matches"), ("*-04-31", "never matches"), ("Fri..Mon", "backwards"),
    ("*-*~01", "not supported"), ("1..2..3:00", "expected"), ("*-*-* 02:00:00.5", "fractional"),
])
def test_bad_expressions_say_what_is_wrong(bad, message):
    with pytest.raises(calendar.CalendarError, match=re.escape(message)):
        calendar.parse(bad)


def test_a_date_in_the_past_never_runs():
    assert calendar.parse("2020-01-01").next_run(datetime(2026, 1, 1, tzinfo=UTC)) is None
