"""The homelab example: hourly and daily policies, a monthly scrub and a nightly local replication,
applied on the simulated host; runs at a series of --at times leave the expected snapshots; the
plan stays empty."""

from __future__ import annotations

import shutil
from pathlib import Path

from .support import cli, host_snapshots

HOMELAB = Path(__file__).resolve().parents[2] / "examples" / "homelab"


def test_homelab_policies_over_two_days(tmp_path):
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d, ignore=shutil.ignore_patterns(".converge"))
    assert cli("apply", str(d)).exit_code == 0
    for day in (1, 2, 3):
        for hour in range(0, 24, 2):
            assert cli("run", "snapshot_policy/hourly", "-C", str(d), "--at", f"2026-12-0{day}T{hour:02d}:00:00").exit_code == 0
        assert cli("run", "snapshot_policy/daily", "-C", str(d), "--at", f"2026-12-0{day}T02:00:00").exit_code == 0
        assert cli("run", "replication/media", "-C", str(d), "--at", f"2026-12-0{day}T03:30:00").exit_code == 0
    assert cli("run", "pool/tank", "-C", str(d)).exit_code == 0
    snaps = sorted(host_snapshots(str(d)))
    hourly = [s for s in snaps if "@auto-hourly-" in s]
    assert len(hourly) == 48  # keep: 24 on each of tank/media and tank/backups
    assert min(s.split("@")[1] for s in hourly) == "auto-hourly-20261202-000000"  # the 24 latest: days 2 and 3
    daily = [s for s in snaps if "@auto-daily-" in s]
    datasets = {"tank", "tank/media", "tank/media/movies", "tank/media/music", "tank/backups", "tank/appdata",
                "tank/appdata/nextcloud"}
    assert {s.split("@")[0] for s in daily} == datasets and len(daily) == 3 * len(datasets)  # daily: 7 keeps all 3
    assert "tank/media@2026-11-01" in snaps, "the declared snapshots are untouched"
    # the replication target holds the three nights sent (keep: 7) and nothing a policy took there
    assert [s for s in snaps if s.startswith("tank/backups/media@")] == [
        f"tank/backups/media@repl-media-2026120{day}-033000" for day in (1, 2, 3)]
    assert [s for s in snaps if "@repl-media-" in s and s.startswith("tank/media@")] == [
        "tank/media@repl-media-20261203-033000"]  # the source keeps only the last common one
    plan = cli("plan", str(d), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "info: snapshot_policy/hourly: next run" in plan.output and "holds 48 snapshots" in plan.output
    assert "info: pool/tank: next scrub" in plan.output
    assert "info: replication/media: next run" in plan.output
