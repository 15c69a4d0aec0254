"""What a kind is. A kind says four things and nothing else: its model (Spec), what it
depends on, how to read all of its instances from a host in bulk, and which steps realise a
create, update or delete. Kinds never diff themselves: the planner compares the fields the
manifest declares, after the same normalisation on both sides."""

from __future__ import annotations

import functools
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

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def declared(self) -> dict[str, Any]:
        """Only what the manifest declares, in JSON form: the planner compares these fields.
        Fields marked `x-converge-always` are compared even at their default (a container's
        `state: running`), because their default is itself a promise about the host."""
        cls = type(self)
        data = self.model_dump(mode="json", exclude_unset=True, exclude=set(cls.meta_fields()))
        for name in cls.flagged("x-converge-always"):
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


S = TypeVar("S", bound=Spec)


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
        return []

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

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        """Last look at all of this kind's changes (a kind that owns one file writes it once)."""

    def ref(self, name: str) -> Ref:
        refs = self.__dict__.setdefault("_refs", {})  # Refs are frozen: one per name, shared
        if name not in refs:
            refs[name] = Ref(kind=self.kind, name=name)
        return refs[name]  # type: ignore[no-any-return]
