"""Kind snapshot_policy on the simulated host: validation, timer units, drift, verify failures."""

from __future__ import annotations

import json

from .support import cli, enabled_units, make_dir, target

HOURLY = """snapshot_policies:
  hourly: {datasets: [tank/data], schedule: hourly, keep: 24}
"""


def test_apply_installs_and_enables_a_timer_then_plan_is_empty(tmp_path):
    d = make_dir(tmp_path, HOURLY)
    result = cli("apply", d)
    assert result.exit_code == 0, result.output
    assert "converged" in result.output
    files = target(d).host.facts.files
    timer = files["/etc/systemd/system/converge-run-hourly.timer"]
    service = files["/etc/systemd/system/converge-run-hourly.service"]
    assert "OnCalendar=hourly UTC" in timer and "WantedBy=timers.target" in timer
    assert f"run snapshot_policy/hourly -C {d} --host sim:{d}/.converge/sim-host.json\n" in service
    assert enabled_units(target(d).host) == ["converge-run-hourly.timer"]
    assert not any(p.startswith("/var/lib/converge/units/") for p in files), "candidates are removed"
    assert "No changes" in cli("plan", d).output


def test_schedule_change_updates_units_and_removed_policy_is_disabled(tmp_path):
    d = make_dir(tmp_path, HOURLY)
    cli("apply", d)
    (tmp_path / "policies.yaml").write_text(HOURLY.replace("schedule: hourly", "schedule: '*:0/30'"))
    plan = cli("plan", d).output
    assert "~ snapshot_policy hourly" in plan and "schedule: hourly → *:0/30" in plan
    assert cli("apply", d).exit_code == 0
    assert "OnCalendar=*:0/30 UTC" in target(d).host.facts.files["/etc/systemd/system/converge-run-hourly.timer"]
    (tmp_path / "policies.yaml").write_text("snapshot_policies: {}\n")
    result = cli("apply", d)
    assert result.exit_code == 0 and "- snapshot_policy hourly" in result.output
    host = target(d).host
    assert "/etc/systemd/system/converge-run-hourly.timer" not in host.facts.files
    assert enabled_units(host) == []


def test_hand_edit_or_disabled_timer_shows_as_drift_and_is_repaired(tmp_path):
    d = make_dir(tmp_path, HOURLY)
    cli("apply", d)
    state = tmp_path / ".converge" / "sim-host.json"
    data = json.loads(state.read_text())
    path = "/etc/systemd/system/converge-run-hourly.timer"
    data["files"][path] = data["files"][path].replace("Persistent=true", "Persistent=false")
    data["sim"]["systemd"]["units"]["converge-run-hourly.timer"]["enabled"] = False
    state.write_text(json.dumps(data))
    plan = cli("plan", d).output
    assert "schedule: hourly (units edited by hand, timer not enabled) → hourly" in plan
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    assert "Persistent=true" in host.facts.files[path] and enabled_units(host)


def test_failing_verify_is_an_apply_error_and_the_old_unit_stays(tmp_path):
    d = make_dir(tmp_path, HOURLY)
    cli("apply", d)
    (tmp_path / "converge.yaml").write_text(
        (tmp_path / "converge.yaml").read_text()[:-1] + ', "settings": {"timers": {"converge": "converge"}}}')
    (tmp_path / "policies.yaml").write_text(HOURLY.replace("keep: 24", "keep: 12"))
    result = cli("apply", d)
    assert result.exit_code == 1
    assert "Command converge is not executable" in result.output  # what systemd says of a relative ExecStart it cannot find
    timer = target(d).host.facts.files["/etc/systemd/system/converge-run-hourly.timer"]
    assert '"keep":24' in timer, "the installed unit is untouched"


def test_bad_schedule_and_unknown_dataset_are_located_errors(tmp_path):
    d = make_dir(tmp_path, """snapshot_policies:
  a:
    datasets: [tank/data]
    schedule: "*-*-* 25:00"
    keep: 3
  b: {datasets: [tank/data], schedule: daily}
  c: {datasets: [tank/data, tank/nope], schedule: daily, keep: 2}
""")
    result = cli("validate", d)
    assert result.exit_code == 1
    out = result.output
    assert "policies.yaml:4:" in out and "hour '25': out of range 0..23" in out
    assert "policies.yaml:6:" in out and "needs keep" in out
    assert "policies.yaml:7:" in out and "dataset 'tank/nope' is not declared nor present on the host" in out
    assert "Traceback" not in out


def test_plan_shows_next_run_and_snapshot_count_as_info(tmp_path):
    from datetime import UTC, datetime

    from converge import engine
    from converge.resources.policies.info import info_lines

    d = make_dir(tmp_path, HOURLY)
    assert "datasets not on the host yet" in cli("plan", d).output
    cli("apply", d)
    for hour in (1, 2):
        cli("run", "snapshot_policy/hourly", "-C", d, "--at", f"2026-11-28T0{hour}:00:00Z")
    _, ctx = engine.plan(target(d))
    assert info_lines(ctx, datetime(2026, 11, 28, 9, 58, tzinfo=UTC)) == [
        "snapshot_policy/hourly: next run 2026-11-28 10:00:00 UTC; holds 2 snapshots"]
    out = cli("plan", d, "--detailed-exitcode")
    assert out.exit_code == 0 and "info: snapshot_policy/hourly: next run" in out.output
