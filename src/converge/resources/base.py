"""What a kind is. A kind says four things and nothing else: its model (Spec), what it
depends on, how to read all of its instances from a host in bulk, and which steps realise a
create, update or delete. Kinds never diff themselves: the planner compares the fields the
manifest declares, after the same normalisation on both sides."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import HostError
from ..hosts.base import Host
from ..model import Change, Facts, FieldDiff, Observed, Ref, Step
from ..types import check_name
from .holders import declared_holder_of_path, holder_of_path, observed_spec

STATE_FILE = "/var/lib/converge/state.json"  # host-side record of what converge manages
STATE_BACKUP = STATE_FILE + ".bak"  # the state before the last write


def parse_state(text: str | None) -> dict[str, Any]:
    """The host-side state; missing is empty, but corrupt is an error: read as empty, it would
    forget honoured request stamps and run a rollback a second time."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise HostError(
            f"{STATE_FILE} on the host is corrupt ({e}); converge stops rather than forget which "
            f"resources it manages and which requests (rollbacks, scrubs) it has honoured. Recover by "
            f"restoring the previous copy (cp {STATE_BACKUP} {STATE_FILE}) or by fixing the JSON by hand, "
            "then run again") from None
    return data


class HostState:
    """converge's host-side record (managed refs, honoured request stamps), updated by state steps."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.lock = threading.Lock()
        self.text = host.read_file(STATE_FILE)
        self.data: dict[str, Any] = parse_state(self.text)

    def apply(self, step: Step) -> None:
        with self.lock:
            for dotted, value in step.state.items():
                section, _, key = dotted.partition(".")
                bucket = self.data.setdefault(section, {})
                if value is None:
                    bucket.pop(key, None)
                else:
                    bucket[key] = value
            if self.text is not None:  # keep one backup: the state before this write
                self.host.write_file(STATE_BACKUP, self.text)
            self.text = json.dumps(self.data, indent=1, sort_keys=True) + "\n"
            self.host.write_file(STATE_FILE, self.text)  # atomic (temp file, fsync, rename)


class Spec(BaseModel):
    """Base of every kind's model: unknown keys are errors; values are normalised by validators."""

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    def declared(self) -> dict[str, Any]:
        """Only what the manifest declares, in JSON form: the planner compares these fields.
        Fields marked `x-converge-always` are compared even at their default (a container's
        `state: running`), because their default is itself a promise about the host."""
        cls = type(self)
        data = self.model_dump(mode="json", exclude_unset=True, exclude=set(cls.meta_fields()))
        always = cls.flagged("x-converge-always")
        for name in (n for n in cls.model_fields if n in always):  # the model's order: a set's varies per run
            data.setdefault(name, self.model_dump(mode="json", include={name})[name])
        return data

    @classmethod
    @functools.cache  # per class and flag: asked for every resource of a plan
    def flagged(cls, flag: str) -> frozenset[str]:
        return frozenset(n for n, f in cls.model_fields.items()
                         if (f.json_schema_extra or {}).get(flag))  # type: ignore[union-attr]

    @classmethod
    def meta_fields(cls) -> frozenset[str]:
        """Fields that steer converge (allow_destroy) and are never compared with the host."""
        return cls.flagged("x-converge-meta")


def allow_destroy_field() -> Any:
    return Field(False, description="allow converge to destroy this resource's data (delete, or a replace "
                                    "forced by a create-only field)", json_schema_extra={"x-converge-meta": True})


@dataclass
class Context:
    """What a kind may look at while reading or planning: the host, its settings, the whole
    desired set, every fact read so far and converge's host-side state."""

    host: Host
    settings: dict[str, Any] = field(default_factory=dict)  # converge.yaml `settings:` (per kind section)
    desired: Any = None  # manifest.Desired
    facts: Facts = field(default_factory=Facts)
    state: dict[str, Any] = field(default_factory=dict)  # parsed STATE_FILE
    reads: dict[str, Any] = field(default_factory=dict)  # bulk reads shared by kinds within one facts pass
    failed: dict[str, str] = field(default_factory=dict)  # kind -> why its read failed (its facts are unknown)

    def file(self, path: str) -> str | None:
        """A file's text: from this facts pass when it was read in bulk with the kinds' owned files
        (no round trip per resource on a remote host), else from the host."""
        if path in self.reads.get("owned-files", ()):
            return self.facts.files.get(path)
        return self.host.read_file(path)

    def specs(self, kind: str) -> dict[str, Any]:
        """The declared specs of one kind, from manifest.Desired or (in tests) a plain
        {kind: {name: spec}}; empty when planning without manifests. Read-only."""
        desired = self.desired
        if desired is None:
            return {}
        if hasattr(desired, "specs"):
            return desired.specs(kind)  # type: ignore[no-any-return]
        return desired.get(kind, {}) if isinstance(desired, dict) else {}

    def kind_settings(self, kind: str) -> dict[str, Any]:
        value = self.settings.get(kind, {})
        return value if isinstance(value, dict) else {}

    def stamp(self, ref: Ref, field_name: str) -> str | None:
        """The request stamp last honoured for ref.field (request stamps, docs/design.md §5)."""
        return self.state.get("stamps", {}).get(f"{ref}:{field_name}")

    def managed_in_state(self, ref: Ref) -> bool:
        return str(ref) in self.state.get("managed", {})


def record_stamp(ref: Ref, field_name: str, value: str | None) -> Step:
    return Step(op="state", state={f"stamps.{ref}:{field_name}": value}, note="record the honoured request")


def record_managed(ref: Ref, managed: bool) -> Step:
    return Step(op="state", state={f"managed.{ref}": True if managed else None},
                note="record ownership" if managed else "forget ownership")


@dataclass
class Joint:
    """One host operation that realises several changes at once, planned as an explicit change of
    its own (planner/joint.py): the file several resources live in, one atomic batch of commands,
    or a stop another change waits for. Each change it `carries` gets an edge to it; it waits for
    what those changes (creates, updates, replaces) need. No change carries another's steps."""

    ref: Ref  # file/PATH, batch/NAME, stop/KIND/NAME
    steps: list[Step]
    carries: list[Ref]
    before: dict[str, Any] | None = None  # None: the thing does not exist yet (a file to create)
    after: dict[str, Any] = field(default_factory=dict)  # what the plan shows of it (compared with before)
    reason: str = ""


def file_joint(path: str, content: str, entries: list[str], steps: list[Step], carries: list[Ref],
               ctx: Context, note: str = "") -> Joint:
    """The explicit `file PATH` change of a kind's shared file: its entries and a digest of its
    text, before (as read from the host) and after; `steps` write it (and validate, reload)."""
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    old = ctx.facts.files[path] if path in ctx.facts.files else ctx.host.read_file(path)  # facts: read once
    kind = carries[0].kind if carries else ""
    before_entries = sorted(n for n, o in ctx.facts.of(kind).items() if o.managed) if kind else []
    written = ", ".join(str(r) for r in carries)
    return Joint(ref=Ref.of("file", path), steps=steps, carries=carries,
                 before=None if old is None else {"entries": before_entries, "sha256": digest(old)},
                 after={"entries": sorted(entries), "sha256": digest(content)},
                 reason=f"written for {written}" + (f"; {note}" if note else ""))


S = TypeVar("S", bound=Spec)


@dataclass(frozen=True)
class KindAction:
    """A REST action on one resource, `POST /api/v1/COLLECTION/NAME/VERB`. Most are an edit of the
    resource in the manifests: `patch` sets fields, `stamp` sets a request stamp to the time of the
    call, and `options` are body keys recorded as `{"at": TIME, **body}` under `options_stamp`.
    `handler` names the few the API carries out itself: "run" (a policy or replication runs now),
    "password" (a secret file), "snapshot" (declares a snapshot of this dataset), "rollback" (edits
    the snapshot's dataset)."""

    summary: str
    patch: dict[str, Any] = field(default_factory=dict)
    stamp: str = ""
    options: tuple[str, ...] = ()
    options_stamp: str = ""
    handler: str = ""
    admin_only: bool = False  # an operator may run every other action


START_STOP_RESTART = {
    "start": KindAction("state: running", patch={"state": "running"}),
    "stop": KindAction("state: stopped", patch={"state": "stopped"}),
    "restart": KindAction("a restart_requested stamp", stamp="restart_requested"),
}


class Kind(Generic[S]):
    kind: ClassVar[str]  # "dataset": the KIND of Ref and of --target KIND/NAME
    section: ClassVar[tuple[str, ...]]  # where it lives in a manifest: ("datasets",), ("shares", "smb")
    spec: ClassVar[type[Spec]]
    name_pattern: ClassVar[re.Pattern[str]]
    name_allowed: ClassVar[str]  # said in errors: what a name may be
    name_max_length: ClassVar[int] = 255  # ZFS's limit for a full dataset or snapshot name; kinds set their tool's
    create_only: ClassVar[frozenset[str]] = frozenset()  # field paths whose change forces a replace
    holds_data: ClassVar[bool] = False  # delete / replace destroys data: needs an explicit allow
    tools: ClassVar[tuple[str, ...]] = ()  # host commands the kind needs (read is skipped without them)
    importable: ClassVar[bool] = True  # `converge import` writes manifests for what the host has
    singleton: ClassVar[str] = ""  # non-empty: the section holds one resource's fields, named this (system)
    label: ClassVar[str] = ""  # for people, in counts and messages ("smb share"); default: the kind, spaced
    actions: ClassVar[dict[str, KindAction]] = {}  # REST actions on one resource, by verb

    @classmethod
    def collection(cls) -> str:
        """Its REST collection: the manifest section as a path (`datasets`, `shares/smb`)."""
        return "/".join(cls.section)

    @classmethod
    def human(cls) -> str:
        return cls.label or cls.kind.replace("_", " ")

    # -- model -------------------------------------------------------------------------------
    def check_name(self, name: str) -> str:
        return check_name(name, self.name_pattern, self.name_allowed, self.name_max_length)

    def depends(self, name: str, spec: S) -> list[Ref]:
        """Resources this one needs (declared, or present on the host)."""
        return []

    def depends_observed(self, name: str, observed: Observed, ctx: Context) -> list[Ref]:
        """What this resource, as it is on the host, needs: deletes run in the reverse order. Its
        depends() read from the host's spec (a clone's origin), plus the pool or dataset holding
        each host path it uses (a container's bind volume, a share's directory)."""
        spec = observed_spec(self.spec, observed.spec)
        refs = self.depends(name, spec) if spec is not None else []  # type: ignore[arg-type]
        for path in self.host_paths(name, observed):
            holder = holder_of_path(path, ctx)
            if holder is not None and holder not in refs:
                refs.append(holder)
        return refs

    def depends_desired(self, name: str, spec: S, ctx: Context) -> list[Ref]:
        """What this resource, as declared, needs before it is created: depends(), plus the
        declared pool or dataset whose mountpoint holds each absolute host path it names."""
        refs = self.depends(name, spec)
        for path in self.host_paths(name, Observed(spec=spec.model_dump(mode="json"))):
            holder = declared_holder_of_path(path, ctx)
            if holder is not None and holder not in refs and holder != self.ref(name):
                refs.append(holder)
        return refs

    def host_paths(self, name: str, observed: Observed) -> list[str]:
        """Absolute host paths this resource uses as it is on the host (what it stops using when deleted)."""
        return []

    def validate_set(self, specs: dict[str, S], desired: Any) -> list[tuple[str, str, str]]:
        """Checks across resources (a port used twice, a property the pool's driver lacks), with the
        whole desired set at hand: (name, field path inside the resource, message) for each problem."""
        return []

    def desired_specs(self, ctx: Context) -> dict[str, S]:
        """What the plan converges: the declared specs, plus any a kind implies from others
        (a service an SMB share needs)."""
        return ctx.specs(self.kind)

    def owned_files(self, ctx: Context) -> list[str]:
        """Files converge owns on the host for this kind (read into facts, written by steps)."""
        shared = self.shared_file(ctx)
        return [shared] if shared else []

    # -- host --------------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        """All instances on the host, in bulk: a few commands, never one per resource."""
        return {}

    def create(self, name: str, spec: S, ctx: Context) -> list[Step]:
        raise NotImplementedError

    def update(self, name: str, spec: S, observed: Observed, diffs: list[FieldDiff], ctx: Context) -> list[Step]:
        raise NotImplementedError

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        raise NotImplementedError

    def replace(self, name: str, spec: S, observed: Observed, ctx: Context) -> list[Step]:
        return self.delete(name, observed, ctx) + self.create(name, spec, ctx)

    def replace_fields(self, spec: S, observed: Observed) -> frozenset[str]:
        """create_only for this instance: a kind with several backends (podman vs LXC containers)
        may be able to change in place what another backend can only set at creation."""
        return self.create_only

    def destroys_data(self, observed: Observed) -> bool:
        """holds_data for this instance (an LXC container's rootfs holds data, a podman one's does not)."""
        return self.holds_data

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        """What deleting this takes with it (children, snapshots, clones, dependents on the host)."""
        return []

    def shared_file(self, ctx: Context) -> str:
        """The one host file all of this kind's resources live in ("" none: each has its own). A kind
        that declares one writes it through joints(): one explicit `file PATH` change per plan."""
        return ""

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        """Last look at this kind's own changes (their reasons, how their diffs read). A change's
        steps are its own: what several changes share is a joint, an order between them an edge."""

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        """Host operations several of these changes share (the shared file written once, one
        `ip -batch`), each planned as an explicit change the changes it carries wait for."""
        return []

    def edges(self, changes: list[Change], ctx: Context) -> list[tuple[Ref, Ref]]:
        """Ordering needs among changes beyond depends(): (first, then) makes `then` wait for
        `first` (a container taking a host port waits for the one that holds it now)."""
        return []

    def lane(self, name: str) -> str | None:
        """Changes in one lane never run at the same time, however parallel the apply (the
        storage kinds share one: see storage.common.pool_lane). None: no such limit."""
        return None

    def ref(self, name: str) -> Ref:
        refs = self.__dict__.setdefault("_refs", {})  # Refs are frozen: one per name, shared
        if name not in refs:
            refs[name] = Ref(kind=self.kind, name=name)
        return refs[name]  # type: ignore[no-any-return]
