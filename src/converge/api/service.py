"""What the API does, apart from HTTP: manifest edits under one lock, plans, apply jobs, events."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import engine
from ..config import CONFIG_FILE
from ..edit import Edit, current_fields, edit_resource, validate_edit, write_edit
from ..errors import ManifestError
from ..lock import edit_lock
from ..manifest import check_references, load_unchecked
from ..model import Change, Plan, Ref
from ..planner import build_plan
from ..planner.build import redact_sensitive
from ..resources import BY_KIND, KINDS, Kind
from .errors import ApiError

# A manifest path the API reads or writes: plain names only (never a git pathspec, a dot file, a
# control character or `..`), in at most a few subdirectories, ending like a manifest.
_PART = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
MANIFEST_PATH = re.compile(rf"(?:{_PART}/){{0,7}}{_PART}\.ya?ml(?:\.j2)?")
MAX_PATH = 255

def collections() -> dict[str, str]:
    """REST collection -> kind, from the registry (read on each call: a kind registered later counts)."""
    return {k.collection(): k.kind for k in KINDS}


def etag_of(value: Any) -> str:
    return '"' + hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20] + '"'


@dataclass
class Job:
    id: str
    status: str = "queued"  # queued, running, done, failed
    changes: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    by: str = ""  # the token or account that started it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "changes": self.changes, "report": self.report,
                "error": self.error, "by": self.by}


class Events:
    """An append-only log of events (apply progress, drift, edits) that streams read from.

    Publishers are threads (apply jobs, the watcher) or the event loop; readers are coroutines
    that wait on an asyncio.Event, woken through their loop's call_soon_threadsafe, so an idle
    stream holds no thread."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.items.append({"seq": len(self.items), "time": time.time(), **event})
            waiters = list(self.waiters)
        for loop, ready in waiters:
            try:
                loop.call_soon_threadsafe(ready.set)
            except RuntimeError:  # that loop is closed: its stream is gone
                pass

    async def wait(self, seq: int, timeout: float) -> list[dict[str, Any]]:
        """The events from `seq` on, waiting up to `timeout` seconds for one."""
        with self.lock:
            if len(self.items) > seq:
                return self.items[seq:]
            waiter = (asyncio.get_running_loop(), asyncio.Event())
            self.waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self.lock:
                self.waiters.discard(waiter)
        with self.lock:
            return self.items[seq:]


class Service:
    def __init__(self, directory: str, host: str | None = None, root: str | None = None,
                 auto_apply: bool = False) -> None:
        self.directory = os.path.abspath(directory)
        self.host, self.root, self.auto_apply = host, root, auto_apply
        self.jobs: dict[str, Job] = {}
        self.events = Events()

    def target(self) -> engine.Target:
        return engine.open_target(self.directory, self.host, self.root)

    # -- reads -------------------------------------------------------------------------------
    def resources(self, kind: str, target: engine.Target | None = None) -> list[dict[str, Any]]:
        """Every `kind` declared or on the host: this server's host, or `target` (an inventory host)."""
        target = target or self.target()
        desired, issues = load_unchecked(self.directory, target.config.vars, layers=target.layers,
                                         host_vars=target.vars, skip=target.skip)
        ctx = engine.read_facts(target.host, desired, target.config.settings)
        plan = build_plan(ctx)
        changes = {c.ref: c for c in plan.changes}
        names = set(desired.entries.get(kind, {})) | set(ctx.facts.resources.get(kind, {}))
        out = []
        for name in sorted(names):
            ref = Ref(kind=kind, name=name)
            entry = desired.entries.get(kind, {}).get(name)
            observed = ctx.facts.resources.get(kind, {}).get(name)
            declared = entry.spec.declared() if entry else None
            change = changes.get(ref)
            out.append({"name": name, "kind": kind, "desired": _redact(kind, declared),
                        "actual": _redact(kind, observed.spec) if observed else None,
                        "managed": bool(observed and observed.managed), "info": observed.info if observed else {},
                        "drift": _drift(change), "file": _rel(self.directory, entry.location.file) if entry else None,
                        "line": entry.location.line if entry else None,
                        "etag": etag_of(declared)})
        return out

    def resource(self, kind: str, name: str, target: engine.Target | None = None) -> dict[str, Any]:
        found = [r for r in self.resources(kind, target) if r["name"] == name]
        if not found:
            raise ApiError(404, f"{kind} {name!r} is neither declared nor on the host")
        return found[0]

    def plan(self) -> Plan:
        return engine.plan(self.target())[0]

    # -- edits -------------------------------------------------------------------------------
    def mutate(self, kind: str, name: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
               author: str, message: str, if_match: str | None = None, apply: bool = False) -> dict[str, Any]:
        """Change one resource's fields in its manifest: validate the whole set, write, commit, plan."""
        try:
            BY_KIND[kind].check_name(name)
        except ValueError as e:
            raise ApiError(422, str(e), details=[{"path": name, "message": str(e)}]) from None
        with edit_lock(self.directory):
            target = self.target()
            desired, _ = load_unchecked(self.directory, target.config.vars)
            entry = desired.entries.get(kind, {}).get(name)
            current = entry.spec.declared() if entry else None
            if if_match is not None and if_match != "*" and if_match != etag_of(current):
                raise ApiError(412, f"{kind} {name!r} changed since you read it (ETag mismatch)")
            if entry and entry.location.file.endswith(".j2"):
                raise ApiError(409, f"{kind} {name!r} is declared in a template ({_rel(self.directory, entry.location.file)}):"
                               " the API does not edit templates; edit the file", code="templated")
            raw = current_fields(_abs(entry.location.file), BY_KIND[kind], name) if entry else None
            fields = change(raw)
            edit = edit_resource(self.directory, desired, kind, name, fields)
            result = self._validate_write(edit, author, message, [str(Ref(kind=kind, name=name))])
        if apply or self.auto_apply:
            result["job"] = self.start_apply(by=author)["id"]
        return result

    def put_manifest(self, rel: str, text: str, author: str, if_match: str | None) -> dict[str, Any]:
        path = self.manifest_path(rel)
        if path.endswith(".j2"):
            raise ApiError(409, f"{rel} is a template: the API does not write templates", code="templated")
        with edit_lock(self.directory):
            before = read_manifest(path, rel) if os.path.lexists(path) else ""
            if if_match is not None and if_match != "*" and if_match != etag_of(before):
                raise ApiError(412, f"{rel} changed since you read it (ETag mismatch)")
            return self._validate_write(Edit(path, before, text), author, f"api: write {rel}")

    def _validate_write(self, edit: Edit, author: str, message: str, refs: list[str] | None = None) -> dict[str, Any]:
        """Validate and plan the edit against the host first; only an edit that plans (its only
        problems: destroys held for an explicit allow) is written and committed."""
        target = self.target()
        try:
            desired, issues = validate_edit(self.directory, edit, target.config.vars)
        except RecursionError:  # a body of thousands of nested brackets: no manifest looks like that
            raise ApiError(400, f"{_rel(self.directory, edit.path)} nests too deeply to be a manifest; "
                           "nothing was changed") from None
        ctx = engine.read_facts(target.host, desired, target.config.settings)
        issues += check_references(desired, engine.present_refs(ctx))
        if issues:
            raise ManifestError(issues)
        # A plan error (a destroy that can never run, a cycle) refuses the edit. An edit of one
        # resource plans that resource and what depends on it (the rest of the set cannot change
        # by it: 1 000 resources planned for one edit were most of a request's time).
        affected = _affected(ctx, [Ref.parse(r) for r in refs]) if refs else None
        plan = build_plan(ctx) if affected is None else build_plan(ctx, targets=affected, record_manifests=False) \
            if affected else Plan()
        plan.host, plan.directory = target.host.name, target.directory
        commit = write_edit(self.directory, edit, author, message)
        self.events.publish({"event": "edit", "file": _rel(self.directory, edit.path), "author": author,
                             "message": message, "commit": commit, **({"refs": refs} if refs else {})})
        return {"file": _rel(self.directory, edit.path), "commit": commit,
                "held": [{"ref": str(c.ref), "reason": c.blocked} for c in plan.changes if c.blocked],
                "plan": json.loads(plan.redacted().model_dump_json())}

    def manifest_path(self, rel: str) -> str:
        shown = rel if len(rel) <= 80 else rel[:77] + "..."
        if rel == CONFIG_FILE:
            raise ApiError(403, f"{CONFIG_FILE} holds the directory's settings, not resources: the API does not "
                           "read or write it; edit the file", code="settings")
        if len(rel) > MAX_PATH or not MANIFEST_PATH.fullmatch(rel):
            raise ApiError(400, f"{shown!r} is not a manifest name: NAME.yaml, NAME.yml or NAME.yaml.j2 (NAME: "
                           f"letters, digits, '_', '-', inner '.'), optionally in DIR/, at most {MAX_PATH} characters")
        path = os.path.realpath(os.path.join(self.directory, rel))
        if not path.startswith(self.directory + os.sep):
            raise ApiError(400, f"{shown!r} is outside the manifest directory")
        if os.path.lexists(path) and not os.path.isfile(path):
            raise ApiError(409, f"{shown!r} is not a regular file (a directory?): not a manifest", code="not_a_file")
        return path

    # -- apply jobs --------------------------------------------------------------------------
    def start_apply(self, allow_destroy: list[Ref] | None = None, by: str = "") -> dict[str, Any]:
        job = Job(id=uuid.uuid4().hex[:12], by=by)
        self.jobs[job.id] = job

        def on_event(what: str, change: Change, detail: str) -> None:
            item = {"ref": str(change.ref), "action": change.action.value, "status": what, "detail": detail}
            job.changes.append(item)
            self.events.publish({"event": "apply", "job": job.id, **item})

        def run() -> None:
            job.status = "running"
            try:
                outcome = engine.reconcile(self.target(), allow_destroy=set(allow_destroy or []),
                                           lock_timeout=600, on_event=on_event)
                job.report = outcome.report.as_dict()
                job.status = "done" if outcome.report.ok else "failed"
            except Exception as e:  # reported on the job, never lost in a thread
                job.status, job.error = "failed", str(e)
            self.events.publish({"event": "job", "job": job.id, "status": job.status, "by": job.by,
                                 "refs": sorted({c["ref"] for c in job.changes})})

        threading.Thread(target=run, daemon=True, name=f"apply-{job.id}").start()
        return job.as_dict()


def _affected(ctx: Any, refs: list[Ref]) -> list[Ref]:
    """The edited resources and, transitively, the declared ones that depend on them; of those,
    the ones declared or on the host (a removed resource that never was applied plans nothing)."""
    dependents: dict[Ref, list[Ref]] = {}
    for kind in KINDS:
        # depends_desired adds the holders of host paths, for the kinds that name host paths
        # (a share's directory, a container's volume); depends() is all the others need.
        paths = type(kind).host_paths is not Kind.host_paths
        for name, spec in ctx.specs(kind.kind).items():
            for dep in (kind.depends_desired(name, spec, ctx) if paths else kind.depends(name, spec)):
                dependents.setdefault(dep, []).append(kind.ref(name))
    seen, todo = set(refs), list(refs)
    while todo:
        for ref in dependents.get(todo.pop(), []):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return sorted(r for r in seen if r.name in ctx.specs(r.kind) or r.name in ctx.facts.resources.get(r.kind, {}))


def read_manifest(path: str, rel: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(409, f"{rel} is not UTF-8 (byte {e.start}); fix the file by hand", code="not_utf8") from None
    except OSError as e:
        raise ApiError(503, f"cannot read {rel}: {e.strerror or e}", code="read_failed") from None


def _drift(change: Change | None) -> list[dict[str, Any]]:
    if change is None:
        return []
    if not change.diffs:
        return [{"action": change.action.value, "reason": change.reason}]
    return [{"action": change.action.value, "path": d.path, "actual": d.before_text, "desired": d.after_text}
            for d in change.diffs]


def _redact(kind: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if data is None else redact_sensitive(BY_KIND[kind].spec, data)


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else os.path.abspath(path)


def _rel(directory: str, path: str) -> str:
    return os.path.relpath(_abs(path), directory)
