"""Kind `pool`: a ZFS pool (zpool) or a btrfs filesystem over one or more devices."""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...errors import CommandFailed, PlanError
from ...model import FieldDiff, Observed, Step
from ...types import OnOff, SortedStrs, Stamp
from ..base import Context, Kind, KindAction, Spec, allow_destroy_field
from ..system.persist import pool_observed_persist, pool_persist_steps, pool_unit_removal
from .common import desired_specs, onoff
from .dataset import RESERVED_PREFIX, DatasetProperties, reserved_property

DISK_RE = re.compile(r"^/[A-Za-z0-9_./:+@-]+$")



def check_disks(disks: list[str]) -> list[str]:
    for d in disks:
        if not DISK_RE.fullmatch(d) or ".." in d:
            raise ValueError(f"disk {d!r} is not an absolute device or file path (e.g. /dev/disk/by-id/ata-X)")
    return disks

class Vdev(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    type: Literal["stripe", "mirror", "raidz1", "raidz2", "raidz3"] = "stripe"
    role: Literal["data", "log", "cache", "spare", "special"] = "data"
    disks: SortedStrs = Field(min_length=1)

    @field_validator("type", mode="before")
    @classmethod
    def _raidz(cls, v: Any) -> Any:
        return {"raidz": "raidz1", "disk": "stripe", "single": "stripe"}.get(v, v) if isinstance(v, str) else v

    @field_validator("disks")
    @classmethod
    def _disk_paths(cls, disks: list[str]) -> list[str]:
        return check_disks(disks)

    @model_validator(mode="after")
    def _width(self) -> "Vdev":
        if self.role in ("cache", "spare") and self.type != "stripe":
            raise ValueError(f"{self.role} devices are single disks: leave out type (got {self.type})")
        need = {"mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}.get(self.type, 1)
        if len(self.disks) < need:
            raise ValueError(f"a {self.type} vdev needs at least {need} disks, got {len(self.disks)}")
        return self


ROLES = ("data", "special", "log", "cache", "spare")


def _property_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


BtrfsProfile = Literal["single", "dup", "raid0", "raid1", "raid1c3", "raid1c4", "raid10"]


class PoolSpec(Spec):
    driver: Literal["zfs", "btrfs"] = "zfs"
    vdevs: list[Vdev] = Field(default_factory=list, description="zfs: vdev topology")
    disks: SortedStrs = Field(default_factory=list, description="btrfs: devices of the filesystem")
    data_profile: BtrfsProfile | None = Field(None, description="btrfs: data profile")
    metadata_profile: BtrfsProfile | None = Field(None, description="btrfs: metadata profile")
    mountpoint: str | None = Field(None, pattern=r"^/[A-Za-z0-9_./:+@-]*$")
    properties: dict[str, str | int | bool] = Field(default_factory=dict,
                                                     description="pool properties (zfs: ashift, autotrim, ...)")
    filesystem_properties: dict[str, str | int | bool] = Field(default_factory=dict,
                                                                description="zfs: root dataset properties")
    autotrim: OnOff | None = None
    scrub_requested: Stamp | None = None
    persist: bool = Field(True, description="btrfs: a systemd .mount unit (named after its escaped mountpoint) "
                                            "mounts it at boot; zfs pools are mounted by zfs-mount.service",
                          json_schema_extra={"x-converge-always": True})
    scrub_schedule: str | None = Field(None, description="scrub on this systemd calendar event (monthly, "
                                       "'Sun *-*-1..7 03:00'): a timer runs `converge run pool/NAME`",
                                       json_schema_extra={"x-converge-always": True})
    force: bool = Field(False, description="use disks that hold a filesystem or pool label",
                        json_schema_extra={"x-converge-meta": True})
    allow_destroy: bool = allow_destroy_field()

    @field_validator("scrub_schedule")
    @classmethod
    def _scrub_schedule(cls, v: str | None) -> str | None:
        if v is None or "(" in v:  # "(...)": a drifted timer as read from the host, shown in plans
            return v
        from ..policies.spec import check_schedule

        return check_schedule(v)

    @field_validator("disks")
    @classmethod
    def _btrfs_disk_paths(cls, disks: list[str]) -> list[str]:
        return check_disks(disks)  # a NUL or a newline here reached `stat` (found by schemathesis)

    @field_validator("data_profile", "metadata_profile", mode="before")
    @classmethod
    def _no_raid56(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() in ("raid5", "raid6"):
            raise ValueError(f"btrfs {v} is refused: its parity RAID is not safe against power loss "
                             "(write hole); use raid1, raid1c3 or raid10")
        return v

    @field_validator("properties", mode="before")
    @classmethod
    def _pool_property_spelling(cls, v: Any) -> Any:
        # `ashift: 12` and zpool's "12", `autotrim: on` and YAML's true are one value
        if not isinstance(v, dict):
            return v
        for key in v:
            if isinstance(key, str) and key.startswith(RESERVED_PREFIX):
                raise ValueError(reserved_property(key))
        return {k: _property_value(x) for k, x in v.items()}

    @field_validator("filesystem_properties", mode="before")
    @classmethod
    def _root_properties(cls, v: Any) -> Any:
        # the root dataset takes dataset properties: same validation and normal form (2T == bytes)
        if not isinstance(v, dict):
            return v
        return DatasetProperties.model_validate(v).model_dump(mode="json", exclude_none=True)

    @field_validator("vdevs", mode="after")
    @classmethod
    def _vdev_normal_form(cls, vdevs: list[Vdev]) -> list[Vdev]:
        # Single-disk vdevs of one role are one stripe; cache and spare devices are never grouped;
        # vdev order carries no meaning, so both sides sort the same way.
        merged: dict[str, set[str]] = {}
        out: list[Vdev] = []
        for v in vdevs:
            if v.type == "stripe" or v.role in ("cache", "spare"):
                merged.setdefault(v.role, set()).update(v.disks)
            else:  # rebuilt with every field set: the planner compares the whole list as declared
                out.append(Vdev(type=v.type, role=v.role, disks=list(v.disks)))
        out += [Vdev(type="stripe", role=role, disks=sorted(d)) for role, d in merged.items()]
        return sorted(out, key=lambda v: (ROLES.index(v.role), v.type, v.disks))

    @model_validator(mode="after")
    def _driver_fields(self) -> "PoolSpec":
        if self.driver == "zfs" and not self.vdevs:
            raise ValueError("a zfs pool needs vdevs: [{type: mirror, disks: [...]}]")
        if self.driver == "btrfs":
            if self.vdevs:
                raise ValueError("a btrfs pool takes disks: [...] and data_profile/metadata_profile, not vdevs")
            if not self.disks:
                raise ValueError("a btrfs pool needs disks: [...]")
        return self


class PoolKind(Kind[PoolSpec]):
    kind = "pool"
    section = ("pools",)
    spec = PoolSpec
    actions = {"scrub": KindAction("a scrub_requested stamp", stamp="scrub_requested")}
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,254}")
    name_allowed = "a letter, then letters, digits, '_', '.', ':', '-'"
    holds_data = True
    create_only = frozenset({"driver"})

    def check_name(self, name: str) -> str:
        name = super().check_name(name)
        if name in ("mirror", "raidz", "raidz1", "raidz2", "raidz3", "spare", "log", "cache", "draid") or \
                re.fullmatch(r"c[0-9].*", name):
            raise ValueError(f"pool name {name!r} is reserved by ZFS")
        return name

    tools = ()  # zpool or btrfs: read() asks the host for each driver's tool itself

    def read(self, ctx: Context) -> dict[str, Observed]:
        out: dict[str, Observed] = {}
        if ctx.host.has("btrfs"):
            out.update(btrfs_driver.read_pools(ctx))
        if ctx.host.has("zpool"):
            out.update(zfs_driver.read_pools(ctx))  # a name on both: ZFS wins, as `zfs` commands would
        for name, obs in out.items():  # btrfs: is its mount unit the one converge would write now?
            spec = ctx.specs(self.kind).get(name)
            obs.spec["persist"] = pool_observed_persist(name, spec, obs, ctx) if obs.spec.get("driver") == "btrfs" \
                else (spec.persist if spec is not None else True)
        scrub_timers.read(ctx, out)
        return out

    def validate_set(self, specs: dict[str, PoolSpec], desired: Any) -> list[tuple[str, str, str]]:
        problems: list[tuple[str, str, str]] = []
        seen: dict[str, str] = {}
        for name, spec in specs.items():
            disks = spec.disks or [d for v in spec.vdevs for d in v.disks]
            for d in disks:
                if d in seen:
                    problems.append((name, "disks", f"disk {d} is also used by pool {seen[d]}"))
                seen[d] = name
            if spec.driver == "zfs" and (spec.disks or spec.data_profile or spec.metadata_profile):
                problems.append((name, "disks", "a zfs pool takes vdevs: [...], not disks/data_profile/metadata_profile"))
        return problems

    def create(self, name: str, spec: PoolSpec, ctx: Context) -> list[Step]:
        check_disks_exist(ctx, name, spec.disks or [d for v in spec.vdevs for d in v.disks])
        held = disk_contents(ctx, spec.disks or [d for v in spec.vdevs for d in v.disks])
        if held and not spec.force:
            raise PlanError(f"pool {name}: " + "; ".join(f"{d} holds {what}" for d, what in sorted(held.items())) +
                            ". Set force: true on the pool to overwrite (this destroys what is there)")
        if spec.driver == "zfs":
            steps = zfs_driver.create_pool(name, spec)
        else:  # the UUID is chosen here so the mount unit can name it before the filesystem exists
            steps, uuid = btrfs_driver.create_pool(name, spec, ctx), str(uuid4())
            steps[0].argv[1:1] = ["-U", uuid]
            steps += pool_persist_steps(name, spec, uuid, None, ctx)
        timer = scrub_timers.steps(name, spec.scrub_schedule, ctx) if spec.scrub_schedule else []
        return steps + zfs_driver.stamps(self.ref(name), spec, ("scrub_requested",)) + timer

    def update(self, name: str, spec: PoolSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        paths = {d.path.split(".", 1)[0] for d in diffs}
        if paths & {"vdevs", "disks"}:  # a new vdev or disk must be on the host
            have = set(observed.spec.get("disks", [])) | {d for v in observed.spec.get("vdevs", []) for d in v["disks"]}
            check_disks_exist(ctx, name, [d for d in spec.disks or [d for v in spec.vdevs for d in v.disks]
                                          if d not in have])
        if spec.driver == "btrfs":
            steps = btrfs_driver.update_pool(name, spec, observed, paths, ctx)
            if paths & {"persist", "mountpoint"}:
                steps += pool_persist_steps(name, spec, str(observed.info.get("uuid")),
                                            observed.spec.get("mountpoint"), ctx)
        else:
            steps = self._update_zfs(name, spec, observed, diffs, paths, ctx)
        if "scrub_requested" in paths:
            steps += zfs_driver.stamps(self.ref(name), spec, ("scrub_requested",))
        if "scrub_schedule" in paths:
            steps += scrub_timers.steps(name, spec.scrub_schedule, ctx)
        return steps

    def _update_zfs(self, name: str, spec: PoolSpec, observed: Observed, diffs: list[FieldDiff],
                    paths: set[str], ctx: Context) -> list[Step]:
        steps = zfs_driver.grow_pool(name, spec, observed) if "vdevs" in paths else []
        pool_props: dict[str, Any] = dict(spec.properties) if "properties" in paths else {}
        if "autotrim" in paths and spec.autotrim is not None:
            pool_props["autotrim"] = spec.autotrim
        have_props = observed.spec.get("properties", {})
        steps += [Step(argv=["zpool", "set", f"{k}={onoff(v)}", name], note="pool property")  # one per call
                  for k, v in pool_props.items() if k == "autotrim" or have_props.get(k) != v]
        fs: dict[str, Any] = {}
        if "filesystem_properties" in paths:
            have = observed.spec.get("filesystem_properties", {})
            fs.update({k: v for k, v in spec.filesystem_properties.items() if have.get(k) != v})
        if "mountpoint" in paths and spec.mountpoint:
            fs["mountpoint"] = spec.mountpoint
        if not observed.managed:
            fs[zfs_driver.MANAGED] = "on"
        steps += zfs_driver.set_steps(ctx, name, fs, "root dataset properties")
        if "scrub_requested" in paths and spec.scrub_requested:
            steps.append(Step(argv=["zpool", "scrub", name], note="honour scrub_requested"))
        return steps

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        if observed.spec.get("driver") == "btrfs":
            blocking = [c for c in btrfs_driver.dependents(name, ctx) if not _goes(c, ctx)]
            steps = btrfs_driver.delete_pool(name, observed, ctx) + pool_unit_removal(observed, ctx)
        else:
            blocking = [c for c in zfs_driver.dependents(name, ctx) if not _goes(c, ctx)]
            steps = [Step(argv=["zpool", "destroy", name], note="destroy the pool")]
        if observed.spec.get("scrub_schedule"):
            steps = scrub_timers.steps(name, None, ctx) + steps
        if blocking:
            raise PlanError(f"pool {name} still holds {', '.join(blocking)} (not managed by converge or still "
                            "declared); converge destroys a pool only once everything in it is its own to delete")
        return steps

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.spec.get("driver") == "btrfs":
            return btrfs_driver.dependents(name, ctx)
        return zfs_driver.dependents(name, ctx)


def _goes(name: str, ctx: Context) -> bool:
    """Managed and no longer declared: the plan deletes it before its pool."""
    kind = "snapshot" if "@" in name else "dataset"
    observed = ctx.facts.of(kind).get(name)
    return bool(observed and observed.managed and name not in desired_specs(ctx, kind))


def check_disks_exist(ctx: Context, pool: str, disks: list[str]) -> None:
    """Disks the host does not have are a plan error (not a `cannot open` halfway through an apply)."""
    if not disks:
        return
    result = ctx.host.run(["stat", "-c", "%F\t%n", "--", *disks], check=False)
    if result.returncode not in (0, 1):  # 1: some path is missing; anything else: stat itself failed
        ctx.host.run(["stat", "-c", "%F\t%n", "--", *disks])  # raises with the command and its message
    found = {line.split("\t", 1)[1] for line in result.stdout.splitlines() if "\t" in line}
    missing = [d for d in disks if d not in found]
    if missing:
        have = ctx.host.run(["lsblk", "-dn", "-o", "PATH"]).stdout.split()
        raise PlanError(f"pool {pool}: the host has no {', '.join(missing)}; its disks are: "
                        + (", ".join(have) or "(none)") + " (or give the path of an image file)")


def disk_contents(ctx: Context, disks: list[str]) -> dict[str, str]:
    """What each disk already holds (filesystem or pool label), from one `blkid -p` probe."""
    if not disks:
        return {}
    argv = ["blkid", "-p", "-o", "export", *disks]
    result = ctx.host.run(argv, check=False)
    if result.returncode not in (0, 2):  # 2: no signature found; anything else is no answer (never "empty")
        raise CommandFailed(argv, result.returncode, result.stderr, result.stdout)
    out: dict[str, str] = {}
    for block in result.stdout.split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if fields.get("DEVNAME") and fields.get("TYPE"):
            label = f" (label {fields['LABEL']})" if fields.get("LABEL") else ""
            out[fields["DEVNAME"]] = f"a {fields['TYPE']} signature{label}"
    return out


# The drivers build on PoolSpec and Vdev above, so they are imported once those exist.
from ..policies import scrub_timers  # noqa: E402
from . import btrfs_driver, zfs_driver  # noqa: E402
