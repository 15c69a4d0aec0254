"""A pool's scrub_schedule: a scrub timer written, repaired and removed; `converge run pool/NAME` scrubs."""

from __future__ import annotations

from .support import BTRFS, ZFS, cli, enabled_units, make_dir, target

TIMER = "/etc/systemd/system/converge-scrub-tank.timer"


def test_scrub_schedule_installs_then_removes_a_timer(tmp_path):
    storage = ZFS.replace("disks: [/dev/sda, /dev/sdb]}]}", "disks: [/dev/sda, /dev/sdb]}], scrub_schedule: monthly}")
    d = make_dir(tmp_path, "snapshot_policies: {}\n", storage=storage)
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    assert "OnCalendar=monthly UTC" in host.facts.files[TIMER]
    assert "run pool/tank -C" in host.facts.files[TIMER.replace(".timer", ".service")]
    assert enabled_units(host) == ["converge-scrub-tank.timer"]
    plan = cli("plan", d).output
    assert "No changes" in plan and "info: pool/tank: next scrub" in plan
    result = cli("run", "pool/tank", "-C", d)
    assert result.exit_code == 0 and result.stdout == "scrubbed tank (zpool scrub tank)\n"
    assert target(d).host.facts.of("pool")["tank"].info["scrubs"] == 1
    (tmp_path / "storage.yaml").write_text(ZFS)
    plan = cli("plan", d).output
    assert "scrub_schedule: monthly → (unset)" in plan or "scrub_schedule: monthly → null" in plan, plan
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    assert TIMER not in host.facts.files and enabled_units(host) == []
    assert "No changes" in cli("plan", d).output


def test_bad_scrub_schedule_is_a_located_error(tmp_path):
    storage = ZFS.replace("disks: [/dev/sda, /dev/sdb]}]}", "disks: [/dev/sda, /dev/sdb]}], scrub_schedule: often}")
    result = cli("validate", make_dir(tmp_path, "snapshot_policies: {}\n", storage=storage))
    assert result.exit_code == 1 and "storage.yaml:2:" in result.output and "schedule 'often'" in result.output


def test_btrfs_scrub_run(tmp_path):
    d = make_dir(tmp_path, "snapshot_policies: {}\n", storage=BTRFS)
    assert cli("apply", d).exit_code == 0
    result = cli("run", "pool/bt", "-C", d)
    assert result.exit_code == 0 and result.stdout == "scrubbed bt (btrfs scrub start -B /bt)\n"
