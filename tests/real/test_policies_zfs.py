"""Real snapshot policy and replication on zfs-fuse 0.7 (a userspace ZFS): graded retention over
many runs, a held snapshot survives pruning (`zfs hold`; zfs-fuse counts holds in userrefs), `zfs get converge:policy` marks only
the policy's snapshots, and `zfs send -I | zfs receive -u` between two datasets of the pool."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid

import pytest
from click.testing import CliRunner

from converge.cli import main

pytestmark = pytest.mark.real


def sh(*argv: str, check: bool = True) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    if check and result.returncode:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def zfs_fuse(tmp_path):
    """Our own zfs-fuse daemon (one per machine: wait up to 3 minutes for another test's to end);
    stopped by its PID after our pool is destroyed."""
    for _ in range(180):
        if subprocess.run(["pgrep", "-x", "zfs-fuse"], capture_output=True).returncode != 0:
            break
        time.sleep(1)
    else:
        pytest.fail("another zfs-fuse daemon kept running for 3 minutes; this test needs its own")
    proc = subprocess.Popen(["/sbin/zfs-fuse", "--no-daemon", "--no-kstat-mount"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    for _ in range(50):
        if subprocess.run(["zpool", "list"], capture_output=True).returncode == 0:
            break
        if proc.poll() is not None:
            pytest.fail(f"zfs-fuse exited: {proc.stderr.read().decode()}")
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("zfs-fuse did not answer `zpool list` within 5 s")
    pool = f"cvpol{uuid.uuid4().hex[:6]}"
    image = tmp_path / "z.img"
    with open(image, "wb") as f:
        f.truncate(128 << 20)
    yield pool, str(image)
    # zfs-fuse remembers pools in its cache across daemons: a pool left behind would come back
    # (FAULTED once its image is gone) in every later test's `zpool list`. -f: it may still be busy.
    subprocess.run(["zfs", "unmount", "-a"], capture_output=True)
    destroyed = subprocess.run(["zpool", "destroy", "-f", pool], capture_output=True, text=True)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    assert destroyed.returncode == 0, f"zpool destroy -f {pool}: {destroyed.stderr}"


def test_zfs_graded_policy_holds_marks_and_replication(zfs_fuse, tmp_path):
    pool, image = zfs_fuse
    manifests, root = tmp_path / "manifests", tmp_path / "root"
    manifests.mkdir()
    (manifests / "storage.yaml").write_text(f"""pools:
  {pool}: {{vdevs: [{{disks: [{image}]}}], mountpoint: {tmp_path}/mnt}}
datasets:
  {pool}/data: {{}}
  {pool}/bk: {{}}
snapshot_policies:
  g: {{datasets: [{pool}/data], schedule: hourly, keep: {{hourly: 2, daily: 2}}}}
replications:
  r: {{source: {pool}/data, target: {{pool_dataset: {pool}/bk/data}}, schedule: daily, keep: 1}}
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
    for day in (3, 4):
        result = cli("run", "replication/r", "-C", str(manifests), *where, "--at", f"2026-12-0{day}T03:00:00Z")
        assert result.exit_code == 0, result.output
    assert "incremental from repl-r-20261203-030000" in result.stdout
    received = [n for n in sh("zfs", "list", "-H", "-t", "snapshot", "-o", "name").split() if "/bk/" in n]
    assert received == [f"{pool}/bk/data@repl-r-20261204-030000"]
    assert re.search(r"\tconverge:replication\tr\t", sh("zfs", "get", "-H", "converge:replication", received[0]))
    plan = cli("plan", str(manifests), *where)
    assert "No changes" in plan.output, plan.output[-3000:]
