"""Retention is a pure function: properties over any snapshot times and rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converge.resources.policies.retention import GRADES, Rules, parse_duration, to_keep

T0 = datetime(2026, 1, 1, tzinfo=UTC)
times = st.lists(st.integers(0, 400 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m)), max_size=60, unique=True)
rules = st.builds(Rules, newest=st.integers(0, 10),
                  within=st.none() | st.integers(1, 2000).map(lambda h: timedelta(hours=h)),
                  graded=st.dictionaries(st.sampled_from(sorted(GRADES)), st.integers(0, 8)))
nows = st.integers(0, 420 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m))


def snaps(ts):
    return [(f"s-{t:%Y%m%d-%H%M%S}", t) for t in ts]


@settings(max_examples=300, deadline=None)
@given(times, rules, nows)
def test_keeps_only_known_names_and_what_each_rule_asks(ts, r, now):
    items = snaps(ts)
    keep = to_keep(items, r, now)
    assert keep <= {n for n, _ in items}
    newest_first = sorted(items, key=lambda s: s[1], reverse=True)
    assert {n for n, _ in newest_first[:r.newest]} <= keep
    assert {n for n, t in items if t > now} <= keep, "the future is never pruned"
    if r.within is not None:
        assert {n for n, t in items if now - r.within <= t} <= keep
    for grade, count in r.graded.items():
        periods = {GRADES[grade](t) for _, t in items}
        kept_periods = {GRADES[grade](t) for n, t in items if n in keep}
        assert len(kept_periods & periods) >= min(count, len(periods))


@settings(max_examples=200, deadline=None)
@given(times, rules, nows)
def test_bigger_counts_keep_a_superset(ts, r, now):
    """Adding rules never keeps fewer; the kept set with a bigger count contains the smaller one."""
    items = snaps(ts)
    more = Rules(newest=r.newest + 1, within=r.within, graded={k: v + 1 for k, v in r.graded.items()})
    assert to_keep(items, r, now) <= to_keep(items, more, now)


def test_keep_three_of_five():
    items = snaps([T0 + timedelta(hours=h) for h in range(5)])
    assert to_keep(items, Rules(newest=3), T0 + timedelta(hours=4)) == {n for n, _ in items[2:]}


def test_graded_keeps_the_first_of_each_period():
    items = snaps([T0 + timedelta(hours=h) for h in range(0, 24 * 10, 6)])  # 4 a day, 10 days
    keep = to_keep(items, Rules(graded={"daily": 3}), T0 + timedelta(days=10))
    assert keep == {"s-20260108-000000", "s-20260109-000000", "s-20260110-000000"}


@pytest.mark.parametrize("text,seconds", [("48h", 172800), ("7d", 604800), ("1w2d", 777600), ("90m", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "48", "h", "2 days", "0h", "-1d"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)
