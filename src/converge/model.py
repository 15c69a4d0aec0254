"""Plain data of the loop: references, observed facts, steps, changes and plans.

Nothing here runs anything. A Plan is data that can be saved, shown and applied later; it
remembers fingerprints of the host state each change was computed from."""

from __future__ import annotations

import functools
import hashlib
import json
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .redaction import MASK, mask


class Ref(BaseModel):
    """Identity of one resource: its kind and its name (`dataset/tank/media`)."""

    model_config = ConfigDict(defer_build=True, frozen=True)
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> "Ref":
        kind, sep, name = text.partition("/")
        if not sep or not name:
            raise ValueError(f"{text!r} is not KIND/NAME (e.g. dataset/tank/media, smb/media)")
        return cls(kind=kind, name=name)

    @classmethod
    def of(cls, kind: str, name: str) -> "Ref":
        """The shared Ref of kind/name (frozen, so one instance serves every dependency list)."""
        return _ref_of(kind, name)

    def __lt__(self, other: "Ref") -> bool:
        return (self.kind, self.name) < (other.kind, other.name)

    # Refs key every graph and set of a plan (10 000s of lookups): compare the two strings
    # directly rather than through pydantic's generic field-by-field hash and equality.
    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __eq__(self, other: object) -> bool:
        if type(other) is not Ref:
            return NotImplemented
        return self.kind == other.kind and self.name == other.name


@functools.lru_cache(maxsize=1 << 17)
def _ref_of(kind: str, name: str) -> Ref:
    return Ref(kind=kind, name=name)


class Action(str, Enum):
    CREATE = "+"
    UPDATE = "~"
    REPLACE = "-/+"
    DELETE = "-"


class Observed(BaseModel):
    """One resource as read from a host: spec-shaped fields plus what only the host knows."""

    model_config = ConfigDict(defer_build=True)
    spec: dict[str, Any]  # same field names and normal forms as the kind's Spec
    managed: bool = False  # created/adopted by converge (ZFS property, label, include file, state file)
    protected: bool = False  # host-side protect flag: never destroyed, even without YAML
    info: dict[str, Any] = Field(default_factory=dict)  # read-only extras: health, size, mountpoint, pid...


class Facts(BaseModel):
    """The actual state of a host. Also the whole state file of the simulated host."""

    model_config = ConfigDict(defer_build=True)
    format: Literal[1] = 1
    resources: dict[str, dict[str, Observed]] = Field(default_factory=dict)  # kind -> name -> observed
    files: dict[str, str] = Field(default_factory=dict)  # files converge owns on the host (path -> text)
    sim: dict[str, Any] = Field(default_factory=dict)  # simulated host only: images, ports, disks, ...

    def of(self, kind: str) -> dict[str, Observed]:
        return self.resources.setdefault(kind, {})

    def fingerprint(self, kind: str) -> str:
        data = {n: o.model_dump(mode="json") for n, o in sorted(self.resources.get(kind, {}).items())}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class Step(BaseModel):
    """One host operation: a command (argv, never a shell string), an atomic file write,
    or a record in converge's host-side state file."""

    model_config = ConfigDict(defer_build=True)
    op: Literal["run", "write", "remove", "state"] = "run"
    argv: list[str] = Field(default_factory=list)
    path: str = ""  # write/remove
    content: str = ""  # write
    mode: int = 0o644  # write
    state: dict[str, Any] = Field(default_factory=dict)  # state: keys to set (None removes)
    input: str | None = None  # stdin for run
    redact: list[str] = Field(default_factory=list)  # substrings never shown in plans or logs
    secret: str = ""  # where the value for secrets.MARK in input is read at run time (file:PATH, env:VAR)
    note: str = ""  # why, in a few words

    def display(self) -> str:
        if self.op == "run":
            text = " ".join(_quote(a) for a in self.argv)
        elif self.op == "write":
            text = f"write {self.path} ({len(self.content.encode())} bytes)"
        elif self.op == "remove":
            text = f"remove {self.path}"
        else:
            text = "record " + ", ".join(f"{k}={v}" for k, v in sorted(self.state.items()))
        return mask(text, self.redact)

    def masked(self) -> "Step":
        """The step as shown: its secrets masked in argv, stdin and file content."""
        return self.model_copy(update={"argv": [mask(a, self.redact) for a in self.argv],
                                       "input": None if self.input is None else mask(self.input, self.redact),
                                       "content": mask(self.content, self.redact),
                                       "redact": [MASK] * len(self.redact)})


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:=@,+%" for c in arg) else json.dumps(arg)


class FieldDiff(BaseModel):
    model_config = ConfigDict(defer_build=True)
    path: str  # dotted, relative to the resource: properties.quota
    before: Any = None
    after: Any = None
    before_text: str = ""  # human spelling (2T, on)
    after_text: str = ""
    forces_replace: bool = False
    sensitive: bool = False


# Kinds of the explicit changes the planner adds for a host operation that is no resource of its own
# (planner/joint.py): `file` (one file several resources live in, written once), `batch` (one atomic
# command batch for several resources), `stop` (a stop another change waits for). The changes they
# exist for list them in depends_on; plan summaries count resources, so they are not counted.
JOINT_KINDS = frozenset({"file", "batch", "stop"})


class Change(BaseModel):
    model_config = ConfigDict(defer_build=True)
    ref: Ref
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    diffs: list[FieldDiff] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    reason: str = ""
    depends_on: list[Ref] = Field(default_factory=list)
    destroys: list[str] = Field(default_factory=list)  # what a destroy takes with it
    blocked: str = ""  # non-empty: refused (destroy not allowed, protected); the text says how to allow it
    destructive: bool = False  # deletes data (needs an allow)


class Plan(BaseModel):
    model_config = ConfigDict(defer_build=True)
    format: Literal[1] = 1
    host: str = ""
    directory: str = ""
    changes: list[Change] = Field(default_factory=list)  # in execution order; what is already right is not a change
    fingerprints: dict[str, str] = Field(default_factory=dict)  # kind (or file:PATH) -> fingerprint of the facts used
    warnings: list[str] = Field(default_factory=list)
    # What the plan was made from, so a saved plan applied after an edit tells the edit from a bug:
    manifests: str = ""  # digest of the whole desired set ("" in plans made before this field)
    desired: dict[str, str] = Field(default_factory=dict)  # KIND/NAME of each change -> digest of its manifest
    targets: list[Ref] = Field(default_factory=list)  # --target of the plan (empty: everything)
    inventory_host: str = ""  # the inventory's name of the host it was made for (fleet plans)

    @property
    def empty(self) -> bool:
        return not self.changes

    def redacted(self) -> "Plan":
        """The plan to show: secrets in step arguments and input replaced by `(sensitive)`.
        (A saved plan keeps them, in a file only its owner can read, so it can be applied.)"""
        copy = self.model_copy(deep=True)
        for change in copy.changes:
            change.steps = [step.masked() for step in change.steps]
        return copy

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "replace": 0, "delete": 0, "blocked": 0}
        names = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "replace", Action.DELETE: "delete"}
        for c in self.changes:
            if c.ref.kind in JOINT_KINDS:
                continue
            if c.action in names:
                counts[names[c.action]] += 1
            if c.blocked:
                counts["blocked"] += 1
        return counts
