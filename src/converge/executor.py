"""Run a plan's steps on a host. Independent changes may run in parallel; a failure skips only
what depends on it, and the report says what was applied, what failed and what was skipped."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from . import secrets
from .errors import CommandFailed, ConvergeError
from .hosts.base import Host
from .logs import debugging, get_logger
from .model import Action, Change, Plan, Ref
from .redaction import mask
from .resources import BY_KIND
from .resources.base import HostState

log = get_logger("converge.apply")


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


def execute(plan: Plan, host: Host, *, parallelism: int = 1, on_event: Event | None = None) -> Report:
    report = Report()
    state = HostState(host)
    emit = on_event or (lambda *a: None)
    late = _late_deletes(plan.changes)
    deletes = [c for c in plan.changes if c.action is Action.DELETE and _key(c.ref) not in late]
    rest = [c for c in plan.changes if c.action is not Action.DELETE or _key(c.ref) in late]
    known = {_key(c.ref) for c in plan.changes}
    bad: dict[Key, Ref] = {}  # change -> the failed or held change it waits on
    done: set[Key] = set()
    for c in plan.changes:
        if c.blocked:
            report.held.append(c.ref)
            bad[_key(c.ref)] = c.ref
    for phase in (deletes, rest):
        _run_phase(phase, known, done, bad, host, state, report, max(1, parallelism), emit)
    host.flush()
    return report


Key = tuple[str, str]


def _late_deletes(changes: list[Change]) -> set[Key]:
    """Deletes run before everything else, except a delete that waits for a replace or update
    (something still uses it on the host) and the deletes that wait for such a delete."""
    actions = {_key(c.ref): c.action for c in changes}
    late: set[Key] = set()
    grew = True
    while grew:
        grew = False
        for c in changes:
            k = _key(c.ref)
            if c.action is Action.DELETE and k not in late and any(
                    actions.get(_key(d)) not in (None, Action.DELETE) or _key(d) in late for d in c.depends_on):
                late.add(k)
                grew = True
    return late


def _lane(change: Change) -> str | None:
    kind = BY_KIND.get(change.ref.kind)  # joint changes (a shared file, a batch) belong to no kind
    return kind.lane(change.ref.name) if kind is not None else None


def _key(ref: Ref) -> Key:
    return ref.kind, ref.name  # plain tuples: hashing pydantic models costs too much at 10 000 changes


def _run_phase(changes: list[Change], known: set[Key], done: set[Key], bad: dict[Key, Ref], host: Host,
               state: HostState, report: Report, parallelism: int, emit: Event) -> None:
    """Run a phase's changes as a DAG: a change starts when all it depends on is done; a failure
    (or a held change) skips everything that depends on it, transitively; the rest goes on."""
    waiting: dict[Key, int] = {}
    dependents: dict[Key, list[Change]] = {}
    order = {_key(c.ref): i for i, c in enumerate(changes)}
    ready: list[tuple[int, Change]] = []  # a heap by plan position: run in the order the plan shows

    def skip(change: Change, cause: Ref) -> None:
        todo = [(change, cause)]
        while todo:
            c, why = todo.pop()
            k = _key(c.ref)
            if k in bad:
                continue
            bad[k] = why
            report.skipped.append((c.ref, why))
            emit("skipped", c, f"depends on {why}")
            todo += [(d, why) for d in dependents.get(k, [])]

    for c in changes:
        if c.blocked:
            continue
        deps = {_key(d) for d in c.depends_on if _key(d) in known and _key(d) not in done}
        cause = next((bad[d] for d in deps if d in bad), None)
        if cause is not None:
            skip(c, cause)
            continue
        waiting[_key(c.ref)] = len(deps)
        for d in deps:
            dependents.setdefault(d, []).append(c)
        if not deps:
            heapq.heappush(ready, (order[_key(c.ref)], c))
    lock = threading.Lock()
    running: dict[Future[str | None], tuple[Change, str | None]] = {}  # with the lane it holds
    busy: set[str] = set()  # lanes a running change holds (Kind.lane)
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        while ready or running:
            later: list[tuple[int, Change]] = []  # ready, but their lane is busy
            while ready and len(running) < parallelism:
                item = heapq.heappop(ready)
                c = item[1]
                if _key(c.ref) in bad:
                    continue
                lane = _lane(c)
                if lane is not None and lane in busy:
                    later.append(item)
                    continue
                if lane is not None:
                    busy.add(lane)
                emit("started", c, "")
                running[pool.submit(_run_change, c, host, state, report, lock)] = c, lane
            for item in later:
                heapq.heappush(ready, item)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                c, lane = running.pop(fut)
                busy.discard(lane or "")
                k = _key(c.ref)
                error = fut.result()
                if error is None:
                    done.add(k)
                    report.applied.append(c.ref)
                    emit("done", c, "")
                    for d in dependents.get(k, []):
                        waiting[_key(d.ref)] -= 1
                        if waiting[_key(d.ref)] == 0 and _key(d.ref) not in bad:
                            heapq.heappush(ready, (order[_key(d.ref)], d))
                else:
                    bad[k] = c.ref
                    emit("failed", c, error)
                    for d in dependents.get(k, []):
                        skip(d, c.ref)
    # What still waits had a dependency that can never be met (held, failed, or outside the plan run).
    for c in changes:
        k = _key(c.ref)
        if not c.blocked and k not in done and k not in bad and waiting.get(k, 0) > 0:
            skip(c, c.depends_on[0])


def _run_change(change: Change, host: Host, state: HostState, report: Report, lock: threading.Lock) -> str | None:
    for step in change.steps:
        values: list[str] = []
        try:
            if step.op == "run":
                with lock:
                    report.commands += 1
                stdin, values = secrets.fill_all(step.input, step.secret, str(change.ref))
                host.run(step.argv, input=stdin)
            elif step.op == "write":  # an env file may take secrets: filled in only now
                content, values = secrets.fill_all(step.content, step.secret, str(change.ref))
                host.write_file(step.path, content or "", step.mode)
            elif step.op == "remove":
                host.remove_file(step.path)
            else:
                state.apply(step)
            if debugging():  # display() quotes every argument: not for a line nobody sees
                log.debug("step", ref=str(change.ref), step=step.display())
        except (ConvergeError, OSError, ValueError) as e:
            detail = str(e)
            if isinstance(e, CommandFailed):
                detail = (e.stderr or e.stdout).strip() or f"exit {e.returncode}"
            detail = mask(detail, [*step.redact, *values, *secrets.redaction_values(step.secret)])
            with lock:
                report.failed.append(Failure(change.ref, step.display(), detail))
            return detail
    return None
