"""In-process schedules (`converge watch`): a policy runs when due; after downtime a missed run
is made once, not once per missed slot; a failing run is reported and does not stop the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from converge import engine
from converge.formats import calendar
from converge.model import Ref
from converge.scheduler import Scheduler, run_due
from converge.watch import Watcher

from .support import cli, host_snapshots, make_dir

T0 = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
HOURLY = Ref.of("snapshot_policy", "h")


def test_due_after_the_next_slot_and_one_catch_up_for_many_missed():
    s = Scheduler()
    s.refresh({HOURLY: calendar.parse("hourly")}, {}, T0)  # never ran: counts from now
    assert s.due(T0 + timedelta(minutes=29)) == [] and s.due(T0 + timedelta(minutes=30)) == [HOURLY]
    ran = []
    events = run_due(s, lambda ref, at: ran.append((ref, at)) or [], T0 + timedelta(hours=5))
    assert len(ran) == 1 and [e["event"] for e in events] == ["scheduled-run"]  # 5 slots missed, one run
    assert s.due(T0 + timedelta(hours=5, minutes=29)) == [] and s.due(T0 + timedelta(hours=5, minutes=30)) == [HOURLY]


def test_a_restart_catches_up_from_the_last_recorded_run():
    s = Scheduler()
    s.refresh({HOURLY: calendar.parse("hourly")}, {"last_runs": {str(HOURLY): (T0 - timedelta(hours=3)).isoformat()}}, T0)
    assert s.due(T0) == [HOURLY]


def test_a_failing_run_is_an_event_and_the_others_still_run():
    s, other = Scheduler(), Ref.of("pool", "tank")
    s.refresh({HOURLY: calendar.parse("hourly"), other: calendar.parse("hourly")}, {}, T0)

    def run(ref, at):
        if ref == HOURLY:
            raise RuntimeError("dataset gone")
        return []

    events = run_due(s, run, T0 + timedelta(hours=1))
    assert sorted(e["event"] for e in events) == ["scheduled-run", "scheduled-run-failed"]
    assert s.due(T0 + timedelta(hours=1)) == []  # a failure waits for the next slot like a success


def test_the_watcher_runs_a_due_policy_on_the_simulated_host(tmp_path):
    d = make_dir(tmp_path, "snapshot_policies:\n  h: {datasets: [tank/data], schedule: hourly, keep: 2}\n")
    assert cli("apply", d).exit_code == 0
    seen = []
    watcher = Watcher(d, on_event=seen.append)
    watcher.refresh_schedules(now=T0)
    assert watcher.run_scheduled(now=T0 + timedelta(minutes=10)) == []
    [event] = watcher.run_scheduled(now=T0 + timedelta(minutes=31))
    assert event["actions"] == ["created tank/data@auto-h-20261201-110100"] and seen == [event]
    state = engine.read_state(engine.open_target(d).host)
    assert state["last_runs"]["snapshot_policy/h"] == (T0 + timedelta(minutes=31)).isoformat()
    # the watcher was down for a day: one run when it comes back, then the hourly slots again
    later = Watcher(d)
    later.refresh_schedules(now=T0 + timedelta(days=1))
    assert len(later.run_scheduled(now=T0 + timedelta(days=1))) == 1
    assert later.run_scheduled(now=T0 + timedelta(days=1, minutes=5)) == []
    assert sorted(n for n in host_snapshots(d) if "@auto-h-" in n) == [
        "tank/data@auto-h-20261201-110100", "tank/data@auto-h-20261202-103000"]
