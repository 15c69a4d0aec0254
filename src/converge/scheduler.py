"""Schedules run in-process, for hosts without systemd and for the simulated host: `converge
watch` (and `serve --watch`) runs snapshot policies, replications and scrubs when they are due,
as their timers would. After downtime a missed run is made once, at start-up (like a timer's
Persistent=true), never once per missed slot. The last run of each is recorded on the host
(`last_runs` in the state file, written by every `converge run`), so a restarted watcher knows
what it missed; a schedule that never ran counts from when the watcher first saw it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .formats import calendar
from .model import Ref

LAST_RUNS = "last_runs"  # state file: "KIND/NAME" -> ISO time of the last run


def calendars(desired: Any) -> dict[Ref, calendar.Calendar]:
    """What runs on a schedule, by ref: policies, replications, pools with a scrub_schedule."""
    out = {Ref.of(kind, name): calendar.parse(spec.schedule)
           for kind in ("snapshot_policy", "replication") for name, spec in desired.specs(kind).items()}
    out.update({Ref.of("pool", name): calendar.parse(spec.scrub_schedule)
                for name, spec in desired.specs("pool").items() if getattr(spec, "scrub_schedule", None)})
    return out


class Scheduler:
    """Which runs are due. `refresh` after each reconcile (the manifests may have changed),
    `due` as often as the loop turns: it only compares times."""

    def __init__(self) -> None:
        self.next: dict[Ref, datetime | None] = {}

    def refresh(self, schedules: dict[Ref, calendar.Calendar], state: dict[str, Any], now: datetime) -> None:
        last_runs = state.get(LAST_RUNS, {})
        known = self.next
        self.next = {}
        for ref, cal in schedules.items():
            last = last_runs.get(str(ref))
            since = datetime.fromisoformat(last) if last else now
            # a schedule already waiting keeps its slot, unless a run was recorded since
            self.next[ref] = known[ref] if ref in known and not last else cal.next_run(since)
        self.schedules = schedules

    def due(self, now: datetime) -> list[Ref]:
        return sorted((ref for ref, at in self.next.items() if at is not None and at <= now), key=str)

    def ran(self, ref: Ref, now: datetime) -> None:
        """The next slot after now: every slot missed before now is covered by this one run."""
        self.next[ref] = self.schedules[ref].next_run(now)


def run_due(scheduler: Scheduler, run: Callable[[Ref, datetime], list[Any]], now: datetime | None = None,
            ) -> list[dict[str, Any]]:
    """Run what is due now; one event per run (what it did, or why it failed)."""
    now = now or datetime.now(UTC)
    events = []
    for ref in scheduler.due(now):
        event: dict[str, Any] = {"event": "scheduled-run", "ref": str(ref), "at": now.isoformat()}
        try:
            event["actions"] = [action.line() for action in run(ref, now)]
        except Exception as e:  # one failing policy never stops the others, nor the watcher
            event.update(event="scheduled-run-failed", error=str(e))
        scheduler.ran(ref, now)
        events.append(event)
    return events
