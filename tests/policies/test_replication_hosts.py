"""Replication to another host of the inventory, between two simulated hosts (`target.host`):
the send runs on the source host, the receive on the target host, each host's snapshots, marks
and state stay its own; an interrupted receive on the target is resumed; only the replication's
own snapshots are ever pruned there; an unknown target host is a located manifest error."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from converge import engine
from converge.config import load_fleet
from converge.fleet.run import open_fleet_target
from converge.hosts import SimHost
from converge.resources.policies.info import info_lines

from .support import BTRFS, ZFS, cli

REPL = """replications:
  r: {source: SRC, target: {pool_dataset: DST, host: backup}, schedule: daily, keep: 2}
"""


def make_fleet(tmp_path, source: str, target: str, nas_storage: str = ZFS, backup_storage: str = ZFS) -> str:
    d = tmp_path / "fleet"
    for name, storage in (("nas", nas_storage), ("backup", backup_storage)):
        os.makedirs(d / name)
        (d / name / "storage.yaml").write_text(storage)
    (d / "nas" / "replication.yaml").write_text(REPL.replace("SRC", source).replace("DST", target))
    (d / "converge.yaml").write_text(json.dumps({
        "sim": {"disks": {x: {"size": 1 << 34} for x in ("/dev/sda", "/dev/sdb", "/dev/sdc")}, "paths": ["/bt"]},
        "hosts": {"nas": {"address": "sim:nas.json", "manifests": ["nas"]},
                  "backup": {"address": "sim:backup.json", "manifests": ["backup"]}}}))
    applied = cli("apply", str(d), "--all")
    assert applied.exit_code == 0, applied.output
    return str(d)


def run(d: str, day: int, ok: bool = True) -> list[str]:
    result = cli("run", "replication/r", "-C", d, "--limit", "nas", "--at", f"2026-12-0{day}T03:00:00Z")
    assert (result.exit_code == 0) == ok, result.output
    return [line for line in result.stdout.splitlines() if not line.startswith(("==", "HOST", "nas ", "1 hosts"))]


def snapshots(d: str, host: str) -> list[str]:
    return sorted(SimHost(os.path.join(d, f"{host}.json")).facts.of("snapshot"))


def state(d: str, host: str) -> dict:
    return json.loads(SimHost(os.path.join(d, f"{host}.json")).read_file("/var/lib/converge/state.json") or "{}")


def test_zfs_replication_to_another_host_full_incremental_and_keep(tmp_path):
    d = make_fleet(tmp_path, "tank/data", "tank/bk/data", backup_storage="pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sda]}]}\n"
                   "datasets:\n  tank/bk: {}\n")
    assert run(d, 1) == ["created tank/data@repl-r-20261201-030000", "sent tank/bk/data@repl-r-20261201-030000 (full)"]
    assert "tank/bk/data@repl-r-20261201-030000" in snapshots(d, "backup")
    assert not any(s.startswith("tank/bk/") for s in snapshots(d, "nas"))  # received there, not here
    assert run(d, 2)[1] == "sent tank/bk/data@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)"
    assert run(d, 3)[-1] == "pruned tank/bk/data@repl-r-20261201-030000 (host backup)"
    assert [s for s in snapshots(d, "backup") if s.startswith("tank/bk/data@")] == [
        "tank/bk/data@repl-r-20261202-030000", "tank/bk/data@repl-r-20261203-030000"]
    assert snapshots(d, "nas") == ["tank/data@repl-r-20261203-030000"]
    assert state(d, "nas")["replication_bases"] == {"r": "tank/data@repl-r-20261203-030000"}
    plan = cli("plan", d, "--all", "--detailed-exitcode")
    assert plan.exit_code == 0 and plan.stdout.count("no changes") == 2, plan.output
    config, hosts = load_fleet(d)
    _, ctx = engine.load_checked(open_fleet_target(d, config, hosts["nas"]))
    assert [line for line in info_lines(ctx, datetime(2026, 12, 1, 12, tzinfo=UTC)) if line.startswith("replication/")] == [
        "replication/r to host backup: next run 2026-12-02 00:00:00 UTC; last common snapshot "
        "tank/data@repl-r-20261203-030000"]


def test_an_interrupted_receive_on_the_target_host_is_resumed(tmp_path):
    d = make_fleet(tmp_path, "tank/data", "tank/bk/data", backup_storage="pools:\n  tank: {vdevs: [{type: stripe, disks: [/dev/sda]}]}\n"
                   "datasets:\n  tank/bk: {}\n")
    assert run(d, 1)[-1] == "sent tank/bk/data@repl-r-20261201-030000 (full)"
    backup = SimHost(os.path.join(d, "backup.json"))
    backup.facts.sim["interrupt_receive"] = 1
    backup.changed()
    backup.flush()
    broken = cli("run", "replication/r", "-C", d, "--limit", "nas", "--at", "2026-12-02T03:00:00Z")
    assert broken.exit_code == 1 and "Partially received snapshot is saved" in broken.output
    assert "tank/bk/data@repl-r-20261202-030000" not in snapshots(d, "backup")
    assert run(d, 3) == [
        "resumed tank/bk/data (finished the interrupted receive of tank/data@repl-r-20261202-030000 on host backup)",
        "created tank/data@repl-r-20261203-030000",
        "sent tank/bk/data@repl-r-20261203-030000 (incremental from repl-r-20261202-030000)",
        "pruned tank/data@repl-r-20261201-030000", "pruned tank/data@repl-r-20261202-030000",
        "pruned tank/bk/data@repl-r-20261201-030000 (host backup)"]
    assert [s for s in snapshots(d, "backup") if s.startswith("tank/bk/data@")] == [
        "tank/bk/data@repl-r-20261202-030000", "tank/bk/data@repl-r-20261203-030000"]


def test_btrfs_replication_to_another_host_prunes_only_what_it_received(tmp_path):
    """The same dataset name on both hosts: each host's snapshots are its own."""
    d = make_fleet(tmp_path, "bt/vol", "bt/vol", nas_storage=BTRFS, backup_storage=BTRFS)
    assert run(d, 1)[-1] == "sent bt/vol@repl-r-20261201-030000 (full)"
    backup = SimHost(os.path.join(d, "backup.json"))  # a snapshot someone made there, with the prefix
    backup.run(["btrfs", "subvolume", "snapshot", "-r", "/bt/vol", "/bt/vol/.snapshots/repl-r-20200101-000000"])
    backup.flush()
    assert run(d, 2)[1] == "sent bt/vol@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)"
    assert run(d, 3)[-1] == "pruned bt/vol@repl-r-20261201-030000 (host backup)"
    assert snapshots(d, "backup") == ["bt/vol@repl-r-20200101-000000", "bt/vol@repl-r-20261202-030000",
                                      "bt/vol@repl-r-20261203-030000"]
    assert snapshots(d, "nas") == ["bt/vol@repl-r-20261203-030000"]
    assert state(d, "backup")["replication_received"] == {
        "bt/vol": ["bt/vol@repl-r-20261202-030000", "bt/vol@repl-r-20261203-030000"]}
    assert "replication_snapshots" not in state(d, "backup")
    plan = cli("plan", d, "--all", "--detailed-exitcode")
    assert plan.exit_code == 0 and plan.stdout.count("no changes") == 2, plan.output


def test_a_target_host_missing_from_the_inventory_is_a_located_error(tmp_path):
    d = make_fleet(tmp_path, "tank/data", "tank/bk/data")
    path = os.path.join(d, "nas", "replication.yaml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("host: backup", "host: bakup"))
    result = cli("validate", d, "--limit", "nas")
    assert result.exit_code == 1
    assert "replication.yaml:2:" in result.output and "replications.r.target.host" in result.output
    assert "'bakup' is not a host of the inventory in converge.yaml (hosts: backup, nas)" in result.output


def test_a_missing_target_dataset_on_the_other_host_is_an_error_before_any_send(tmp_path):
    d = make_fleet(tmp_path, "tank/data", "tank/bk/data")  # backup declares no tank/bk
    out = cli("run", "replication/r", "-C", d, "--limit", "nas", "--at", "2026-12-01T03:00:00Z")
    assert out.exit_code == 1 and "tank/bk does not exist on host backup" in out.output
    assert snapshots(d, "nas") == [] and not any(s.startswith("tank/bk") for s in snapshots(d, "backup"))
