"""Run a plan's steps on a host. Independent changes may run in parallel; a failure skips only
what depends on it, and the report says what was applied, what failed and what was skipped."""

from __future__ import annotations

import json
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

import structlog

from .errors import CommandFailed, ConvergeError
from .hosts.base import Host
from .model import Action, Change, Plan, Ref, Step
from .resources.base import STATE_FILE

log = structlog.get_logger("converge.apply")


@dataclass
class Failure:
    ref: Ref
    step: str
    error: str


@dataclass
class Report:
    applied: list[Ref] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[tuple[Ref, Ref]] = field(default_factory=list)  # (skipped, because this failed or was held)
    held: list[Ref] = field(default_factory=list)  # blocked changes not run
    commands: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.held

    def as_dict(self) -> dict[str, Any]:
        return {"applied": [str(r) for r in self.applied],
                "failed": [{"ref": str(f.ref), "step": f.step, "error": f.error} for f in self.failed],
                "skipped": [{"ref": str(r), "because": str(b)} for r, b in self.skipped],
                "held": [str(r) for r in self.held], "commands": self.commands}


Event = Callable[[str, Change, str], None]  # (started|done|failed|skipped, change, detail)


class HostState:
    """converge's host-side record (managed refs, honoured request stamps), updated by state steps."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.lock = threading.Lock()
        text = host.read_file(STATE_FILE)
        try:
            self.data: dict[str, Any] = json.loads(text) if text else {}
        except ValueError:
            self.data = {}

    def apply(self, step: Step) -> None:
        with self.lock:
            for dotted, value in step.state.items():
                section, _, key = dotted.partition(".")
                bucket = self.data.setdefault(section, {})
                if value is None:
                    bucket.pop(key, None)
                else:
                    bucket[key] = value
            self.host.write_file(STATE_FILE, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


def execute(plan: Plan, host: Host, *, parallelism: int = 1, on_event: Event | None = None) -> Report:
    report = Report()
    state = HostState(host)
    emit = on_event or (lambda *a: None)
    by_ref = {c.ref: c for c in plan.changes}
    deletes = [c for c in plan.changes if c.action is Action.DELETE]
    rest = [c for c in plan.changes if c.action is not Action.DELETE]
    bad: dict[Ref, Ref] = {}  # ref -> the failed/held change it waits on
    for c in plan.changes:
        if c.blocked:
            report.held.append(c.ref)
            bad[c.ref] = c.ref
    for phase in (deletes, rest):
        _run_phase(phase, by_ref, host, state, report, bad, max(1, parallelism), emit)
    host.flush()
    return report


def _run_phase(changes: list[Change], by_ref: dict[Ref, Change], host: Host, state: HostState, report: Report,
               bad: dict[Ref, Ref], parallelism: int, emit: Event) -> None:
    pending = list(changes)
    done: set[Ref] = set()
    running: dict[Future[str | None], Change] = {}
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        while pending or running:
            for c in list(pending):
                if c.ref in bad and c.ref not in report.held:
                    pending.remove(c)
                    continue
                if c.blocked:
                    pending.remove(c)
                    continue
                cause = next((bad[d] for d in c.depends_on if d in bad), None)
                if cause is not None:
                    pending.remove(c)
                    bad[c.ref] = cause
                    report.skipped.append((c.ref, cause))
                    emit("skipped", c, f"depends on {cause}")
                    continue
                if all(d in done or d not in by_ref for d in c.depends_on) and len(running) < parallelism:
                    pending.remove(c)
                    emit("started", c, "")
                    running[pool.submit(_run_change, c, host, state, report, lock)] = c
            if not running:
                if pending:  # dependencies on changes outside this phase that never ran
                    for c in pending:
                        report.skipped.append((c.ref, c.depends_on[0]))
                    pending.clear()
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                c = running.pop(fut)
                error = fut.result()
                if error is None:
                    done.add(c.ref)
                    report.applied.append(c.ref)
                    emit("done", c, "")
                else:
                    bad[c.ref] = c.ref
                    emit("failed", c, error)


def _run_change(change: Change, host: Host, state: HostState, report: Report, lock: threading.Lock) -> str | None:
    for step in change.steps:
        try:
            if step.op == "run":
                with lock:
                    report.commands += 1
                host.run(step.argv, input=step.input)
            elif step.op == "write":
                host.write_file(step.path, step.content, step.mode)
            elif step.op == "remove":
                host.remove_file(step.path)
            else:
                state.apply(step)
            log.debug("step", ref=str(change.ref), step=step.display())
        except (ConvergeError, OSError, ValueError) as e:
            detail = str(e)
            if isinstance(e, CommandFailed):
                detail = (e.stderr or e.stdout).strip() or f"exit {e.returncode}"
            for secret in step.redact:
                if secret:
                    detail = detail.replace(secret, "(sensitive)")
            with lock:
                report.failed.append(Failure(change.ref, step.display(), detail))
            return detail
    return None
