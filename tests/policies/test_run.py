"""`converge run`: snapshots for a time slot, idempotent, and pruning that touches only eligible
policy snapshots (never hand-made, held, cloned, another policy's, or a replication base)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge.model import Ref
from converge.runs import run

from .support import BTRFS, at, cli, host_snapshots, make_dir, target

KEEP3 = """snapshot_policies:
  p: {datasets: [tank/data], schedule: hourly, keep: 3}
"""


def test_run_creates_marks_prunes_and_is_idempotent(tmp_path):
    d = make_dir(tmp_path, KEEP3)
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    host.run(["zfs", "snapshot", "tank/data@auto-p-20260101-000000"])  # hand-made, same prefix
    host.flush()
    outputs = []
    for hour in range(5):
        result = cli("run", "snapshot_policy/p", "-C", d, "--at", f"2026-11-28T{hour:02d}:00:00Z")
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert outputs[0].splitlines() == ["created tank/data@auto-p-20261128-000000"]
    assert outputs[3].splitlines() == ["created tank/data@auto-p-20261128-030000",
                                       "pruned tank/data@auto-p-20261128-000000"]
    again = cli("run", "snapshot_policy/p", "-C", d, "--at", "2026-11-28T04:00:00Z")
    assert again.stdout.splitlines() == ["exists tank/data@auto-p-20261128-040000"]
    assert sorted(host_snapshots(d)) == ["tank/data@auto-p-20260101-000000", "tank/data@auto-p-20261128-020000",
                                         "tank/data@auto-p-20261128-030000", "tank/data@auto-p-20261128-040000"]
    props = target(d).host.run(["zfs", "get", "-Hp", "-o", "name,property,value,source", "all"]).stdout
    marked = sorted(line.split("\t")[0] for line in props.splitlines() if "\tconverge:policy\tp\t" in line)
    assert marked == ["tank/data@auto-p-20261128-020000", "tank/data@auto-p-20261128-030000",
                      "tank/data@auto-p-20261128-040000"]
    assert "No changes" in cli("plan", d).output, "policy snapshots are not resources to delete"


def test_run_errors_exit_nonzero(tmp_path):
    d = make_dir(tmp_path, KEEP3)
    result = cli("run", "snapshot_policy/p", "-C", d)
    assert result.exit_code == 1 and "tank/data does not exist on the host" in result.output
    result = cli("run", "snapshot_policy/nope", "-C", d)
    assert result.exit_code == 1 and "snapshot_policy/nope is not declared" in result.output
    result = cli("run", "snapshot_policy/p", "-C", d, "--at", "yesterday")
    assert result.exit_code == 1 and "not an ISO 8601 time" in result.output


def test_recursive_btrfs_policy_records_its_snapshots_in_the_state_file(tmp_path):
    d = make_dir(tmp_path, """snapshot_policies:
  b: {datasets: [bt], recursive: true, schedule: daily, keep: 2, prefix: nightly}
""", storage=BTRFS)
    assert cli("apply", d).exit_code == 0, cli("plan", d).output
    host = target(d).host
    host.run(["mkdir", "-p", "/bt/vol/.snapshots"])
    host.run(["btrfs", "subvolume", "snapshot", "-r", "/bt/vol", "/bt/vol/.snapshots/nightly-20260101-000000"])
    host.flush()
    for day in range(1, 5):
        assert cli("run", "snapshot_policy/b", "-C", d, "--at", f"2026-12-0{day}T02:00:00").exit_code == 0
    assert sorted(host_snapshots(d)) == ["bt/vol@nightly-20260101-000000", "bt/vol@nightly-20261203-020000",
                                         "bt/vol@nightly-20261204-020000", "bt@nightly-20261203-020000",
                                         "bt@nightly-20261204-020000"]
    assert "No changes" in cli("plan", d).output


# -- the property: any mix of snapshots, any run times ------------------------------------------
KINDS = ["policy", "hand", "held", "cloned", "other", "replicated"]
snapshot_mix = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 24 * 40)), max_size=14,
                        unique_by=lambda t: t[1])
run_times = st.lists(st.integers(0, 24 * 50), min_size=1, max_size=4)
keeps = st.sampled_from(["keep: 2", "keep: {hourly: 3, daily: 2}", "keep_within: 30h", "keep: 1\n    keep_within: 2d"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot_mix, run_times, keeps)
def test_pruning_touches_only_eligible_policy_snapshots(mix, hours, keep):
    t0 = at("2026-10-01T00:00:00")
    with tempfile.TemporaryDirectory() as tmp:
        d = make_dir(tmp, f"snapshot_policies:\n  p:\n    datasets: [tank/data]\n    schedule: hourly\n    {keep}\n")
        shutil.copytree(_applied_template(), os.path.join(d, ".converge"))
        host = target(d).host
        eligible, bases = set(), {}
        for i, (kind, hour) in enumerate(mix):
            snap = f"tank/data@auto-p-{t0 + timedelta(hours=hour):%Y%m%d-%H%M%S}"
            mark = {"policy": ["-o", "converge:policy=p"], "held": ["-o", "converge:policy=p"],
                    "cloned": ["-o", "converge:policy=p"], "replicated": ["-o", "converge:policy=p"],
                    "other": ["-o", "converge:policy=q"], "hand": []}[kind]
            host.run(["zfs", "snapshot", *mark, snap])
            if kind == "held":
                host.run(["zfs", "hold", "keep", snap])
            elif kind == "cloned":
                host.run(["zfs", "clone", snap, f"tank/clone{i}"])
            elif kind == "replicated":
                bases[f"r{i}"] = snap
            elif kind == "policy":
                eligible.add(snap)
        host.write_file("/var/lib/converge/state.json", json.dumps({"replication_bases": bases}))
        host.flush()
        before = set(target(d).host.facts.of("snapshot"))
        created = set()
        for hour in hours:
            for action in run(target(d), Ref(kind="snapshot_policy", name="p"), t0 + timedelta(hours=hour)):
                if action.verb == "created":
                    created.add(action.snapshot)
        after = set(target(d).host.facts.of("snapshot"))
        gone = before - after
        assert gone <= eligible, f"pruned something not eligible: {sorted(gone - eligible)}"
        assert (after - before) <= created
        assert before - eligible <= after, "hand-made, held, cloned and other snapshots all survive"


_TEMPLATE: list[str] = []


def _applied_template() -> str:
    """The pool and datasets applied once (a simulated host state directory to copy per example)."""
    if not _TEMPLATE:
        tmp = tempfile.mkdtemp(prefix="converge-policy-template-")
        d = make_dir(tmp, "snapshot_policies: {}\n")
        assert cli("apply", d).exit_code == 0
        _TEMPLATE.append(os.path.join(d, ".converge"))
    return _TEMPLATE[0]


def test_import_leaves_out_the_snapshots_runs_took(tmp_path):
    d = make_dir(tmp_path / "zfs", KEEP3)
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    host.run(["zfs", "snapshot", "tank/data@by-hand"])
    host.flush()
    cli("run", "snapshot_policy/p", "-C", d, "--at", "2026-11-28T00:00:00Z")
    b = make_dir(tmp_path / "btrfs", "snapshot_policies:\n  b: {datasets: [bt/vol], schedule: daily, keep: 2}\n",
                 storage=BTRFS)
    assert cli("apply", b).exit_code == 0
    cli("run", "snapshot_policy/b", "-C", b, "--at", "2026-11-28T00:00:00Z")
    for directory, hand in ((d, "tank/data@by-hand"), (b, None)):
        out = tmp_path / "imported" / directory.rsplit("/", 1)[1]
        assert cli("import", directory, "-o", str(out)).exit_code == 0
        text = "".join(p.read_text() for p in out.glob("*.yaml"))
        assert "auto-" not in text, text
        if hand:
            assert hand in text
