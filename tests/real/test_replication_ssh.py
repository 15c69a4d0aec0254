"""Replication between two SSH hosts with real btrfs send/receive: two network namespaces, each
running its own sshd (tests/sshd_ns.py), each host's pool a btrfs filesystem on its own loop
device, made and mounted by `converge apply --all` over SSH under that host's --root. The send
runs on host0 and the receive on host1, joined by converge in the client namespace. Checked with
btrfs's own tools inside each host's mount namespace (`btrfs subvolume list`, `subvolume show`,
the file read back from the received snapshot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from isolation import note_leftovers, unique_name
from sshd_ns import Fleet, sh, start_fleet

pytestmark = pytest.mark.real

STORAGE = """pools:
  {label}: {{driver: btrfs, disks: [{disk}], mountpoint: /srv/{label}}}
datasets:
  {label}/{dataset}: {{}}
"""
REPLICATION = """replications:
  r: {{source: {source}, target: {{pool_dataset: {target}, host: host1}}, schedule: daily, keep: 2}}
"""


@pytest.fixture
def pair(loops: list[str], tmp_path: Path) -> Iterator[tuple[Fleet, list[str]]]:
    note_leftovers("network namespace", [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines()
                                         if line.strip()], "ip netns del NAME")
    try:
        fleet = start_fleet(tmp_path, 2, allow=("btrfs",))
    except RuntimeError as e:
        pytest.fail(f"cannot start the SSH hosts: {e}")
    mounts: list[tuple[int, str]] = []
    try:
        yield fleet, mounts  # type: ignore[misc]
    finally:
        # converge mounted each pool inside its host's mount namespace (sshd's): unmounted there,
        # by its exact path, before the hosts stop and the loop devices are detached
        for pid, mountpoint in mounts:
            subprocess.run(["nsenter", "-t", str(pid), "-m", "umount", mountpoint], capture_output=True)
        fleet.cleanup()


def in_host(pid: int, *argv: str, input: str | None = None) -> str:
    out = subprocess.run(["nsenter", "-t", str(pid), "-m", *argv], capture_output=True, text=True, input=input)
    assert out.returncode == 0, f"{' '.join(argv)}: {out.stderr}"
    return out.stdout


def converge(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(fleet.in_client(sys.executable, "-m", "converge.cli", *args), capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))


def test_btrfs_replication_between_two_ssh_hosts(pair, loops: list[str]) -> None:
    fleet, mounts = pair
    labels = [unique_name(), unique_name()]
    directory = fleet.base / "manifests"
    for i, host in enumerate(fleet.hosts):
        (directory / host.name).mkdir(parents=True)
        (directory / host.name / "storage.yaml").write_text(
            STORAGE.format(label=labels[i], disk=loops[i], dataset="data" if i == 0 else "bk"))
    (directory / "host0" / "replication.yaml").write_text(
        REPLICATION.format(source=f"{labels[0]}/data", target=f"{labels[1]}/bk"))
    roots = [fleet.base / "roots" / h.name for h in fleet.hosts]
    (directory / "converge.yaml").write_text(json.dumps({
        "host_defaults": {"identity_file": str(fleet.client_key), "known_hosts": str(fleet.known_hosts)},
        "hosts": {h.name: {"address": f"ssh://root@{h.address}", "root": str(roots[i]), "manifests": [h.name]}
                  for i, h in enumerate(fleet.hosts)}}))
    path = str(directory)
    pids = [h.proc.pid for h in fleet.hosts]  # sshd itself (ip netns exec execs it): its mount namespace
    mnt = [f"{roots[i]}/srv/{labels[i]}" for i in range(2)]

    applied = converge(fleet, "apply", path, "--all", "--forks", "2")
    mounts += [(pids[i], mnt[i]) for i in range(2)]
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"{labels[1]}" in in_host(pids[1], "btrfs", "filesystem", "show", mnt[1])

    def run(day: int) -> str:
        done = converge(fleet, "run", "replication/r", "-C", path, "--limit", "host0",
                        "--at", f"2026-12-0{day}T03:00:00Z")
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def received(day: int) -> str:
        return f"{mnt[1]}/bk/.snapshots/repl-r-2026120{day}-030000"

    in_host(pids[0], "tee", f"{mnt[0]}/data/hello.txt", input="one\n")
    assert f"sent {labels[1]}/bk@repl-r-20261201-030000 (full)" in run(1)
    assert " path bk/.snapshots/repl-r-20261201-030000\n" in in_host(pids[1], "btrfs", "subvolume", "list", mnt[1])
    assert in_host(pids[1], "cat", f"{received(1)}/hello.txt") == "one\n"
    shown = in_host(pids[1], "btrfs", "subvolume", "show", received(1))
    assert "Received UUID:" in shown and "Received UUID: \t\t-" not in shown, shown
    assert in_host(pids[1], "btrfs", "property", "get", received(1), "ro").strip() == "ro=true"

    in_host(pids[0], "tee", f"{mnt[0]}/data/hello.txt", input="two\n")
    assert (f"sent {labels[1]}/bk@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)" in run(2))
    assert in_host(pids[1], "cat", f"{received(2)}/hello.txt") == "two\n"

    # a snapshot made by hand on the target, with the replication's prefix: never pruned
    in_host(pids[1], "btrfs", "subvolume", "snapshot", "-r", f"{mnt[1]}/bk",
            f"{mnt[1]}/bk/.snapshots/repl-r-20200101-000000")
    third = run(3)
    assert f"pruned {labels[1]}/bk@repl-r-20261201-030000 (host host1)" in third
    target_list = in_host(pids[1], "btrfs", "subvolume", "list", "-s", mnt[1])
    assert sorted(line.rsplit(" path ", 1)[1] for line in target_list.splitlines()) == [
        "bk/.snapshots/repl-r-20200101-000000", "bk/.snapshots/repl-r-20261202-030000",
        "bk/.snapshots/repl-r-20261203-030000"]
    source_list = in_host(pids[0], "btrfs", "subvolume", "list", "-s", mnt[0])
    assert [line.rsplit(" path ", 1)[1] for line in source_list.splitlines()] == [
        "data/.snapshots/repl-r-20261203-030000"]
    assert in_host(pids[1], "cat", f"{received(3)}/hello.txt") == "two\n"
    state = json.loads((roots[1] / "var/lib/converge/state.json").read_text())
    assert state["replication_received"] == {f"{labels[1]}/bk": [f"{labels[1]}/bk@repl-r-20261202-030000",
                                                                 f"{labels[1]}/bk@repl-r-20261203-030000"]}

    again = converge(fleet, "plan", path, "--all", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("no changes") == 2
