"""Real snapshot policy and replication on zfs-fuse 0.7 (a userspace ZFS): graded retention over
many runs, a held snapshot survives pruning (`zfs hold`; zfs-fuse counts holds in userrefs), `zfs get converge:policy` marks only
the policy's snapshots, and `zfs send -i | zfs receive -u` from one pool to another (full, then
incremental after a file changed; the file is read back on the target). An interrupted receive's
resume (`receive -s`, `send -t`) cannot run here: zfs-fuse 0.7 has only `receive [-vnF]`, and takes
the plain receive converge falls back to; tests/policies/test_replication.py covers the resume."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from .test_zfs import zfs_fuse  # noqa: F401  (a private zfs-fuse daemon, stopped by its process group)

pytestmark = pytest.mark.real


# zfs-fuse serves a whole machine through fixed paths: this test uses its own daemon in a private
# mount namespace (the fixture of test_zfs.py), and runs converge and zfs's tools inside it.
PREFIX: list[str] = []


def sh(*argv: str, check: bool = True) -> str:
    result = subprocess.run([*PREFIX, *argv], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if check and result.returncode:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


@dataclass
class Ran:
    exit_code: int
    stdout: str
    output: str


def cli(*args: str) -> Ran:
    """The converge CLI in the daemon's mount namespace (a separate process: nsenter). Debug lines
    name each step as it starts: a run that hangs (a zfs-fuse command that never answers, seen once
    in CI) fails with the step it hung in and the processes still running in the namespace."""
    try:
        result = subprocess.run([*PREFIX, sys.executable, "-m", "converge.cli", *args], capture_output=True,
                                text=True, timeout=240, env=dict(os.environ, CONVERGE_DEBUG="1"))
    except subprocess.TimeoutExpired as e:
        partial = "".join(p.decode(errors="replace") if isinstance(p, bytes) else p or "" for p in (e.stdout, e.stderr))
        running = subprocess.run([*PREFIX, "ps", "-eo", "pid,etime,args"], capture_output=True, text=True).stdout
        raise AssertionError(f"converge {' '.join(args[:1])} did not finish in 240 s; its output:\n"
                             f"{partial[-4000:]}\nprocesses:\n{running}") from None
    return Ran(result.returncode, result.stdout, result.stdout + result.stderr)


def test_zfs_graded_policy_holds_marks_and_replication(zfs_fuse, tmp_path, monkeypatch):  # noqa: F811
    pool, image = zfs_fuse["pool"], zfs_fuse["images"][0]
    backup = pool + "b"
    monkeypatch.setattr(sys.modules[__name__], "PREFIX", zfs_fuse["host"].prefix)
    manifests, root = tmp_path / "manifests", tmp_path / "root"
    manifests.mkdir()
    (manifests / "storage.yaml").write_text(f"""pools:
  {pool}: {{vdevs: [{{disks: [{image}]}}], mountpoint: {tmp_path}/mnt}}
  {backup}: {{vdevs: [{{disks: [{zfs_fuse["images"][1]}]}}], mountpoint: {tmp_path}/mntb}}
datasets:
  {pool}/data: {{}}
  {pool}/bk: {{}}
snapshot_policies:
  g: {{datasets: [{pool}/data], schedule: hourly, keep: {{hourly: 2, daily: 2}}}}
replications:
  r: {{source: {pool}/data, target: {{pool_dataset: {backup}/data}}, schedule: daily, keep: 1}}
""")
    where = ["--host", "local", "--root", str(root)]
    result = cli("apply", str(manifests), *where)
    assert result.exit_code == 0, result.output
    sh("zfs", "snapshot", f"{pool}/data@auto-g-20200101-000000")  # hand-made, the policy's prefix
    for day, hour in [(1, 0), (1, 6), (1, 12), (2, 0), (2, 6)]:
        if (day, hour) == (1, 12):  # retention would prune 06:00 (neither hourly-latest nor first of its day)
            sh("zfs", "hold", "keepme", f"{pool}/data@auto-g-20261201-060000")
        result = cli("run", "snapshot_policy/g", "-C", str(manifests), *where, "--at", f"2026-12-0{day}T{hour:02d}:00:00Z")
        assert result.exit_code == 0, result.output
    snaps = sorted(sh("zfs", "list", "-H", "-t", "snapshot", "-o", "name").split())
    # hourly 2: 2026-12-02 00:00 and 06:00; daily 2: the first of 12-01 and of 12-02; 12-01 06:00 is held
    assert snaps == [f"{pool}/data@auto-g-20200101-000000", f"{pool}/data@auto-g-20261201-000000",
                     f"{pool}/data@auto-g-20261201-060000",
                     f"{pool}/data@auto-g-20261202-000000", f"{pool}/data@auto-g-20261202-060000"]
    assert "kept " + f"{pool}/data@auto-g-20261201-060000 (held (zfs holds))" in result.stdout
    # (zfs-fuse's `zfs holds` needs a python helper Debian does not ship: the hold count is userrefs)
    assert sh("zfs", "get", "-H", "-o", "value", "userrefs", f"{pool}/data@auto-g-20261201-060000").strip() == "1"
    marks = {line.split("\t")[0]: line.split("\t")[2] for line in
             sh("zfs", "get", "-H", "converge:policy", *snaps).splitlines()}
    assert marks.pop(f"{pool}/data@auto-g-20200101-000000") == "-", "the hand-made snapshot carries no mark"
    assert set(marks.values()) == {"g"}

    sh("zfs", "release", "keepme", f"{pool}/data@auto-g-20261201-060000")
    for day, text in ((3, "first"), (4, "changed")):
        sh("sh", "-c", f"echo {text} > {tmp_path}/mnt/data/notes.txt")  # in the daemon's mount namespace
        result = cli("run", "replication/r", "-C", str(manifests), *where, "--at", f"2026-12-0{day}T03:00:00Z")
        assert result.exit_code == 0, result.output
    assert "incremental from repl-r-20261203-030000" in result.stdout
    received = [n for n in sh("zfs", "list", "-H", "-t", "snapshot", "-o", "name").split() if n.startswith(backup + "/")]
    assert received == [f"{backup}/data@repl-r-20261204-030000"]
    sh("zfs", "mount", f"{backup}/data")  # received with -u: not mounted until asked
    assert sh("cat", f"{tmp_path}/mntb/data/notes.txt") == "changed\n"
    sh("zfs", "unmount", f"{backup}/data")
    assert re.search(r"\tconverge:replication\tr\t", sh("zfs", "get", "-H", "converge:replication", received[0]))
    plan = cli("plan", str(manifests), *where)
    assert "No changes" in plan.output, plan.output[-3000:]
    for name in (backup, pool):  # before the daemon stops: nothing left in its (private) cache
        # zfs-fuse may still hold a just-unmounted dataset "busy" for a moment (under load)
        for _ in range(40):
            done = subprocess.run([*PREFIX, "zpool", "destroy", "-f", name], capture_output=True, text=True)
            if done.returncode == 0:
                break
            assert "pool is busy" in done.stderr, done.stderr
            time.sleep(0.25)
