"""`converge watch`: apply on save, safely (docs/design.md §8).

One reconcile per burst of saves (watchfiles debounces them; saves made during an apply are
delivered as one batch afterwards), a periodic resync that repairs (or only reports) drift
made outside converge, invalid edits reported with their location and nothing applied, and
destroys/replacements held until approved. Applies never overlap: every reconcile takes the
host's one apply lock, shared with the CLI and the API."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import watchfiles

from . import approvals, engine, runs
from .errors import ConvergeError, LockBusy, ManifestError
from .logs import get_logger
from .manifest import load_unchecked
from .model import Action, Change, Ref
from .scheduler import Scheduler, calendars, run_due

log = get_logger("converge.watch")

MANIFEST_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
GIT_TIMEOUT_S = 120
STEP_MS = 50  # how often watchfiles hands over what it saw (and the loop wakes when idle)
EDITOR_LITTER = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak", ".orig")


class Everything(frozenset):  # type: ignore[type-arg]
    """--auto-approve-destroy: every ref counts as allowed (protected ones still refuse)."""

    def __contains__(self, item: object) -> bool:
        return True


def relevant(directory: str) -> Callable[[watchfiles.Change, str], bool]:
    """Manifests and converge.yaml; approvals; never .git, editor litter or converge's own state."""
    approvals_file = os.path.abspath(approvals.path(directory))

    def accept(change: watchfiles.Change, path: str) -> bool:
        if os.path.abspath(path) == approvals_file:
            return True
        rel = os.path.relpath(path, directory)
        parts = rel.split(os.sep)
        name = parts[-1]
        if any(p.startswith(".") for p in parts) or name.startswith(("#", ".#")) or name.endswith(EDITOR_LITTER):
            return False
        return name.endswith(MANIFEST_SUFFIXES)

    return accept


class Watcher:
    def __init__(self, directory: str, *, host: str | None = None, root: str | None = None, debounce_ms: int = 300,
                 resync_s: float = 60.0, drift: str = "repair", auto_approve_destroy: bool = False,
                 git_pull_s: float | None = None, lock_timeout: float = 600.0,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.directory = os.path.abspath(directory)
        self.host, self.root = host, root
        self.debounce_ms, self.resync_s, self.drift = debounce_ms, resync_s, drift
        self.auto_approve_destroy, self.git_pull_s, self.lock_timeout = auto_approve_destroy, git_pull_s, lock_timeout
        self.on_event = on_event
        self.reconciles = 0
        self.stop = threading.Event()  # run() replaces it with the caller's
        self.scheduler = Scheduler()  # policies, replications and scrubs, run when due (scheduler.py)

    # -- the loop ------------------------------------------------------------------------------
    def start(self, stop: threading.Event | None = None) -> threading.Thread:
        """Run in a background thread (`serve --watch`); `watcher.stop.set()` ends it. on_event
        is called from that thread: an asyncio server hands events over with call_soon_threadsafe."""
        stop = stop or threading.Event()
        self.stop = stop
        thread = threading.Thread(target=self.run, args=(stop,), name="converge-watch", daemon=True)
        thread.start()
        return thread

    def run(self, stop: threading.Event) -> None:
        """Reconcile at start, then once per burst of saves, per git fast-forward, per resync.

        watchfiles ends a batch when its set of (change, path) stops growing, so saves of the
        same file keep coming in new batches: the burst itself is timed here. It is applied
        when no batch has come for `debounce - STEP` ms (a batch arrives STEP..2 x STEP after
        its events), so saves closer than that always share one reconcile, and saves made
        during an apply are one batch afterwards: exactly one more reconcile."""
        self.stop = stop
        self.reconcile("start")
        last_resync = last_pull = time.monotonic()
        pending: set[str] = set()
        last_batch = first_batch = pulled_at = -1e9
        quiet = max(0, self.debounce_ms - STEP_MS) / 1000
        for changes in watchfiles.watch(self.directory, watch_filter=relevant(self.directory), step=STEP_MS,
                                        debounce=STEP_MS * 20, rust_timeout=STEP_MS, yield_on_timeout=True,
                                        stop_event=stop):
            now = time.monotonic()
            if changes:
                if not pending:
                    first_batch = now
                pending |= {os.path.relpath(p, self.directory) for _, p in changes}
                last_batch = now
                continue
            if pending and now - last_batch >= quiet:
                files, pending = sorted(pending), set()
                # The watcher's own consume() rewrites approvals.json; a file that approves
                # nothing any more has nothing to release, so it is no reason to reconcile.
                if files != [approvals.FILE] or approvals.load(self.directory):
                    self.reconcile("git-pull" if first_batch - pulled_at < 2 else "save", files=files)
                last_resync = time.monotonic()
            if pending:
                continue  # a burst is under way: it is the next thing to apply
            self.run_scheduled()
            if self.git_pull_s and now - last_pull >= self.git_pull_s:
                last_pull = now
                # A fast-forward rewrites manifests; their file events bring the reconcile.
                if self.git_pull():
                    pulled_at = time.monotonic()
            if self.resync_s and now - last_resync >= self.resync_s:
                last_resync = now
                self.reconcile("resync")

    # -- one reconcile -------------------------------------------------------------------------
    def reconcile(self, trigger: str, **extra: Any) -> dict[str, Any]:
        self.reconciles += 1
        start = time.monotonic()
        event: dict[str, Any] = {"event": "reconcile", "trigger": trigger, **extra}
        try:
            target = engine.open_target(self.directory, self.host, self.root)
            if trigger == "resync" and self.drift == "report":
                plan, _ = engine.plan(target)
                event.update(event="drift", summary=plan.summary(), changes=[_brief(c) for c in plan.changes])
            else:
                approved = approvals.load(self.directory)
                allowed = Everything() if self.auto_approve_destroy else approved
                outcome = self._when_locked(lambda wait: engine.reconcile(
                    target, allow_destroy=allowed, hold_destroys=not self.auto_approve_destroy, lock_timeout=wait,
                    on_event=self._progress))
                report = outcome.report
                # An approval is good for one destroy: used ones go, and so do those that match
                # no pending destroy/replacement (the ref came back into the manifests), so an
                # old approval never releases a later, unrelated destroy.
                pending = {c.ref for c in outcome.plan.changes if c.action in (Action.DELETE, Action.REPLACE)}
                approvals.consume(self.directory, approved & (set(report.applied) | (approved - pending)))
                event.update(summary=outcome.plan.summary(), **report.as_dict())
                if report.held:  # why each is held: an approval releases some, never a protected one
                    event["why"] = {str(c.ref): c.blocked for c in outcome.plan.changes if c.ref in report.held}
        except ManifestError as e:
            event.update(event="invalid", issues=[str(i) for i in sorted(e.issues)],
                         note="nothing applied; the host keeps the last good state")
        except ConvergeError as e:
            event.update(event="error", error=str(e))
        except Exception as e:  # a bug in a kind must not end a long-running watcher
            log.exception("reconcile-crashed", trigger=trigger)
            event.update(event="error", error=f"{type(e).__name__}: {e}")
        event["duration_ms"] = round((time.monotonic() - start) * 1000, 1)
        self._emit(event)
        if event["event"] not in ("invalid", "error"):
            self.refresh_schedules()
        return event

    def _emit(self, event: dict[str, Any]) -> None:
        failed = event["event"] in ("invalid", "error", "scheduled-run-failed") or event.get("failed") or event.get("held")
        name = event.pop("event")
        getattr(log, "warning" if failed else "info")(name, **event)
        event["event"] = name
        if self.on_event:
            self.on_event(event)

    # -- schedules -----------------------------------------------------------------------------
    def refresh_schedules(self, now: datetime | None = None) -> None:
        """The schedules as the manifests now declare them, and when each last ran on the host."""
        try:
            target = engine.open_target(self.directory, self.host, self.root)
            desired, _ = load_unchecked(self.directory)
            self.scheduler.refresh(calendars(desired), engine.read_state(target.host), now or datetime.now(UTC))
        except ConvergeError as e:
            log.warning("schedules-unread", error=str(e))

    def run_scheduled(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Run the policies, replications and scrubs that are due, as their timers would."""
        if not self.scheduler.due(now or datetime.now(UTC)):
            return []

        def run(ref: Ref, at: datetime) -> list[Any]:
            return runs.run(engine.open_target(self.directory, self.host, self.root), ref, at, self.lock_timeout)

        events = run_due(self.scheduler, run, now)
        for event in events:
            self._emit(event)
        return events

    def _when_locked(self, attempt: Callable[[float], engine.Outcome]) -> engine.Outcome:
        """Wait for the apply lock up to lock_timeout, in short slices, so that stopping (Ctrl-C,
        SIGTERM, the API shutting down) is not stuck behind another process's long apply."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return attempt(max(0.0, min(1.0, deadline - time.monotonic())))
            except LockBusy:
                if self.stop.is_set() or time.monotonic() >= deadline:
                    raise

    def _progress(self, what: str, change: Change, detail: str) -> None:
        if self.on_event:
            self.on_event({"event": "change", "status": what, "ref": str(change.ref),
                           "action": change.action.value, "detail": detail})

    # -- git pull mode -------------------------------------------------------------------------
    def git_pull(self) -> bool:
        """Fetch and fast-forward; True when HEAD moved. A non-fast-forward is reported, never forced."""
        def git(*args: str) -> subprocess.CompletedProcess[str]:
            argv = ["git", "-C", self.directory, *args]
            try:  # a fetch hung on the network must not stop the watcher
                return subprocess.run(argv, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                                      env=dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0"))
            except subprocess.TimeoutExpired:
                return subprocess.CompletedProcess(argv, 124, "", f"git {args[0]}: no answer in {GIT_TIMEOUT_S} s")

        before = git("rev-parse", "HEAD").stdout.strip()
        fetched = git("fetch", "--quiet")
        merged = git("merge", "--ff-only", "--quiet", "@{u}") if fetched.returncode == 0 else fetched
        if merged.returncode != 0:
            log.warning("git-pull", error=(merged.stderr or merged.stdout).strip()[-500:],
                        note="not a fast-forward (or no upstream): nothing pulled, nothing forced")
            if self.on_event:
                self.on_event({"event": "git-pull", "ok": False, "error": (merged.stderr or merged.stdout).strip()})
            return False
        return git("rev-parse", "HEAD").stdout.strip() != before


def _brief(change: Change) -> dict[str, Any]:
    return {"ref": str(change.ref), "action": change.action.value,
            "diffs": [f"{d.path}: {d.before_text} → {d.after_text}" for d in change.diffs]}


def held_refs(directory: str, host: str | None = None, root: str | None = None) -> list[Ref]:
    """What an approval would release right now: the destroys and replacements that nothing but
    an approval holds (planned with every destroy allowed, a protected one stays blocked)."""
    plan, _ = engine.plan(engine.open_target(directory, host, root), allow_destroy=Everything())
    return [c.ref for c in plan.changes if c.action in (Action.DELETE, Action.REPLACE) and not c.blocked]


def approve(directory: str, refs: list[Ref], host: str | None = None, root: str | None = None) -> list[Ref]:
    """Record approvals (CLI and API): the refs given, or all that wait for one when none is
    given. A ref that no approval releases (not pending, protected) is refused, not recorded:
    kept, it would release a later destroy nobody approved."""
    held = held_refs(directory, host, root)
    chosen = refs or held
    refused = [r for r in chosen if r not in held]
    if refused:
        raise ConvergeError("nothing that an approval releases is held for " + ", ".join(map(str, refused))
                            + " (not a pending destroy/replacement, or protected on the host)")
    if chosen:
        approvals.approve(directory, chosen)
    return chosen
