"""Real snapshot policies: btrfs on a loop device, `converge run` at successive --at times (checked
with `btrfs subvolume list -s`), and the timer units converge writes checked with systemd's own
tools (`systemd-analyze verify`, `systemctl --root enable` + readlink, `systemd-analyze calendar`).
Everything lives under tmp_path (--root); names are unique per run."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from converge.cli import main

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py


def sh(*argv: str, check: bool = True) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, env=dict(os.environ, TZ="UTC", LC_ALL="C"))
    if check and result.returncode:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


@pytest.fixture
def loop(loops):
    return loops[0]


def test_btrfs_policy_keep3_over_five_runs_with_real_timer_units(loop, tmp_path):
    label = f"cvpol{uuid.uuid4().hex[:8]}"
    root, manifests = tmp_path / "root", tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "storage.yaml").write_text(f"""pools:
  {label}: {{driver: btrfs, disks: [{loop}], mountpoint: /srv/{label}, scrub_schedule: monthly}}
datasets:
  {label}/data: {{}}
snapshot_policies:
  p: {{datasets: [{label}/data], schedule: "*-*-* 0/6:15", keep: 3}}
""")
    where = ["--host", "local", "--root", str(root)]
    result = cli("apply", str(manifests), *where)
    assert result.exit_code == 0, result.output
    mnt = root / "srv" / label
    units = root / "etc" / "systemd" / "system"

    # the units converge installed pass systemd's verifier and are enabled through a .wants link
    sh("systemd-analyze", "verify", str(units / "converge-run-p.service"), str(units / "converge-run-p.timer"))
    link = units / "timers.target.wants" / "converge-run-p.timer"
    assert sh("readlink", str(link)).strip() == "/etc/systemd/system/converge-run-p.timer"
    service = (units / "converge-run-p.service").read_text()
    assert re.search(rf"ExecStart=/\S+ run snapshot_policy/p -C {re.escape(str(manifests))} --host local "
                     rf"--root {re.escape(str(root))}\n", service)
    assert "OnCalendar=*-*-* 0/6:15 UTC" in (units / "converge-run-p.timer").read_text()

    # systemd-analyze calendar agrees with the next run converge shows
    plan = cli("plan", str(manifests), *where)
    assert "No changes" in plan.output, plan.output
    shown = re.search(r"info: snapshot_policy/p: next run (\S+ \S+) UTC", plan.output).group(1)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if shown[:16] > now[:16]:  # (not across a run boundary while the test ran)
        theirs = sh("systemd-analyze", "calendar", "*-*-* 0/6:15 UTC")
        assert re.search(r"Next elapse: \w+ (\S+ \S+) UTC", theirs).group(1) == shown

    # a hand-made snapshot with the policy's prefix: never pruned
    (mnt / "data" / ".snapshots").mkdir()
    sh("btrfs", "subvolume", "snapshot", "-r", str(mnt / "data"), str(mnt / "data" / ".snapshots" / "auto-p-20200101-000000"))
    for day in range(1, 6):
        result = cli("run", "snapshot_policy/p", "-C", str(manifests), *where, "--at", f"2026-12-0{day}T06:15:00Z")
        assert result.exit_code == 0, result.output
    listed = sh("btrfs", "subvolume", "list", "-s", str(mnt))
    snaps = sorted(re.findall(r"path (\S+)$", listed, re.M))
    assert snaps == ["data/.snapshots/auto-p-20200101-000000", "data/.snapshots/auto-p-20261203-061500",
                     "data/.snapshots/auto-p-20261204-061500", "data/.snapshots/auto-p-20261205-061500"]
    # the scrub timer, and the run it calls
    sh("systemd-analyze", "verify", str(units / f"converge-scrub-{label}.service"),
       str(units / f"converge-scrub-{label}.timer"))
    assert sh("readlink", str(units / "timers.target.wants" / f"converge-scrub-{label}.timer")).strip() == \
        f"/etc/systemd/system/converge-scrub-{label}.timer"
    scrub = cli("run", f"pool/{label}", "-C", str(manifests), *where)
    assert scrub.exit_code == 0 and scrub.stdout.startswith(f"scrubbed {label} (btrfs scrub start -B ")
    assert re.search(r"Status:\s+finished", sh("btrfs", "scrub", "status", str(mnt))), "btrfs recorded the scrub"
    again = cli("run", "snapshot_policy/p", "-C", str(manifests), *where, "--at", "2026-12-05T06:15:00Z")
    assert again.stdout.splitlines() == [f"exists {label}/data@auto-p-20261205-061500"]
    assert "No changes" in cli("plan", str(manifests), *where).output


def test_btrfs_replication_between_two_loop_filesystems(loops, tmp_path):
    src, dst = f"cvsrc{uuid.uuid4().hex[:8]}", f"cvdst{uuid.uuid4().hex[:8]}"
    root, manifests = tmp_path / "root", tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "storage.yaml").write_text(f"""pools:
  {src}: {{driver: btrfs, disks: [{loops[0]}], mountpoint: /srv/{src}}}
  {dst}: {{driver: btrfs, disks: [{loops[1]}], mountpoint: /srv/{dst}}}
datasets:
  {src}/data: {{}}
  {dst}/bk: {{}}
replications:
  r: {{source: {src}/data, target: {{pool_dataset: {dst}/bk}}, schedule: daily, keep: 2}}
""")
    where = ["--host", "local", "--root", str(root)]
    result = cli("apply", str(manifests), *where)
    assert result.exit_code == 0, result.output
    sh("systemd-analyze", "verify", str(root / "etc/systemd/system/converge-replicate-r.service"),
       str(root / "etc/systemd/system/converge-replicate-r.timer"))
    source, backup = root / "srv" / src, root / "srv" / dst
    outputs = []
    for day in range(1, 4):
        (source / "data" / f"day{day}.txt").write_text(f"day {day}\n")
        result = cli("run", "replication/r", "-C", str(manifests), *where, "--at", f"2026-12-0{day}T03:00:00Z")
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert "(incremental from repl-r-20261202-030000)" in outputs[2]
    received = sorted(re.findall(r"path (\S+)$", sh("btrfs", "subvolume", "list", "-s", str(backup)), re.M))
    assert received == ["bk/.snapshots/repl-r-20261202-030000", "bk/.snapshots/repl-r-20261203-030000"]
    latest = backup / "bk" / ".snapshots" / "repl-r-20261203-030000"
    assert (latest / "day1.txt").read_text() == "day 1\n" and (latest / "day3.txt").read_text() == "day 3\n"
    show = sh("btrfs", "subvolume", "show", str(latest))
    assert not re.search(r"Received UUID:\s+-\s*$", show, re.M), "btrfs receive made it (a received UUID)"
    left = sorted(re.findall(r"path (\S+)$", sh("btrfs", "subvolume", "list", "-s", str(source)), re.M))
    assert left == ["data/.snapshots/repl-r-20261203-030000"], "only the base stays on the source"
    assert "No changes" in cli("plan", str(manifests), *where).output
