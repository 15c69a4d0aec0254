"""Kind `pool`: a ZFS pool (zpool) or a btrfs filesystem over one or more devices."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

from ...errors import CommandFailed, PlanError
from ...model import FieldDiff, Observed, Step
from ..base import Context, Kind, KindAction
from ..system.persist import pool_observed_persist, pool_persist_steps, pool_unit_removal
from . import btrfs_driver, scrub_timers, zfs_driver
from .common import desired_specs, onoff, pool_lane
from .specs import PoolSpec


class PoolKind(Kind[PoolSpec]):
    kind = "pool"
    section = ("pools",)
    spec = PoolSpec
    actions = {"scrub": KindAction("a scrub_requested stamp", stamp="scrub_requested")}
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,254}")
    name_allowed = "a letter, then letters, digits, '_', '.', ':', '-'"
    holds_data = True
    create_only = frozenset({"driver"})

    def lane(self, name: str) -> str | None:
        return pool_lane(name)

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
