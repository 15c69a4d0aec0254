"""Kind replication on the simulated host: full then incremental sends, bases recorded and
protected, keep on the target, never -F into a target with no common snapshot."""

from __future__ import annotations

import os

from .support import BTRFS, ZFS, cli, enabled_units, host_snapshots, make_dir, target

ZFS_REPL = ZFS + "  tank/bk: {}\n"
REPL = """replications:
  r: {source: tank/data, target: {pool_dataset: tank/bk/data}, schedule: daily, keep: 2}
"""


def _run(d, day):
    result = cli("run", "replication/r", "-C", d, "--at", f"2026-12-0{day}T03:00:00Z")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_zfs_replication_full_then_incremental_keeps_two_on_the_target(tmp_path):
    d = make_dir(tmp_path, REPL, storage=ZFS_REPL)
    assert cli("apply", d).exit_code == 0
    host = target(d).host
    assert "converge-replicate-r.timer" in enabled_units(host)
    assert _run(d, 1) == ["created tank/data@repl-r-20261201-030000", "sent tank/bk/data@repl-r-20261201-030000 (full)"]
    assert _run(d, 2) == ["created tank/data@repl-r-20261202-030000",
                          "sent tank/bk/data@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)",
                          "pruned tank/data@repl-r-20261201-030000"]
    _run(d, 3)
    assert _run(d, 3) == ["exists tank/bk/data@repl-r-20261203-030000"]
    assert sorted(host_snapshots(d)) == ["tank/bk/data@repl-r-20261202-030000", "tank/bk/data@repl-r-20261203-030000",
                                         "tank/data@repl-r-20261203-030000"]
    state = target(d).host.read_file("/var/lib/converge/state.json")
    assert '"r": "tank/data@repl-r-20261203-030000"' in state
    assert "No changes" in cli("plan", d).output


def test_the_replication_base_survives_a_snapshot_policy_prune(tmp_path):
    d = make_dir(tmp_path, REPL + """snapshot_policies:
  p: {datasets: [tank/data], schedule: hourly, keep: 1, prefix: repl-r}
""", storage=ZFS_REPL)
    assert cli("apply", d).exit_code == 0
    _run(d, 1)
    host = target(d).host
    host.run(["zfs", "set", "converge:policy=p", "tank/data@repl-r-20261201-030000"])  # as if the policy's own
    host.flush()
    result = cli("run", "snapshot_policy/p", "-C", d, "--at", "2026-12-01T05:00:00Z")
    assert "kept tank/data@repl-r-20261201-030000 (base of the last replication)" in result.stdout


def test_zfs_target_without_common_snapshot_is_refused_not_forced(tmp_path):
    d = make_dir(tmp_path, REPL, storage=ZFS_REPL + "  tank/bk/data: {}\n")
    assert cli("apply", d).exit_code == 0
    result = cli("run", "replication/r", "-C", d, "--at", "2026-12-01T03:00:00Z")
    assert result.exit_code == 1 and "never receives with -F" in result.output
    assert not any(n.startswith("tank/bk/data@") for n in host_snapshots(d))


def test_btrfs_replication_sends_with_parent(tmp_path):
    repl = REPL.replace("tank/data", "bt/vol").replace("tank/bk/data", "bt/bk")
    d = make_dir(tmp_path, repl, storage=BTRFS + "  bt/bk: {}\n")
    assert cli("apply", d).exit_code == 0
    assert _run(d, 1)[-1] == "sent bt/bk@repl-r-20261201-030000 (full)"
    assert _run(d, 2)[1] == "sent bt/bk@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)"
    _run(d, 3)
    assert sorted(host_snapshots(d)) == ["bt/bk@repl-r-20261202-030000", "bt/bk@repl-r-20261203-030000",
                                         "bt/vol@repl-r-20261203-030000"]
    assert "No changes" in cli("plan", d).output


def test_recursive_is_refused_with_a_located_error(tmp_path):
    d = make_dir(tmp_path, REPL.replace("keep: 2}", "keep: 2, recursive: true}"), storage=ZFS_REPL)
    result = cli("validate", d)
    assert result.exit_code == 1 and "policies.yaml:2:" in result.output and "not supported yet" in result.output


def _interrupt_next_receive(d):
    host = target(d).host
    host.facts.sim["interrupt_receive"] = 1
    host.changed()
    host.flush()


def test_an_interrupted_zfs_receive_is_resumed_by_the_next_run(tmp_path):
    d = make_dir(tmp_path, REPL, storage=ZFS_REPL)
    assert cli("apply", d).exit_code == 0
    _interrupt_next_receive(d)
    broken = cli("run", "replication/r", "-C", d, "--at", "2026-12-01T03:00:00Z")
    assert broken.exit_code == 1 and "Partially received snapshot is saved" in broken.output
    assert "tank/bk/data@repl-r-20261201-030000" not in host_snapshots(d)
    # the same slot again: the saved state is finished with `zfs send -t`, nothing is sent twice
    assert _run(d, 1) == ["resumed tank/bk/data (finished the interrupted receive of tank/data@repl-r-20261201-030000)",
                          "exists tank/bk/data@repl-r-20261201-030000"]
    assert _run(d, 2)[1] == "sent tank/bk/data@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)"
    _interrupt_next_receive(d)
    assert cli("run", "replication/r", "-C", d, "--at", "2026-12-03T03:00:00Z").exit_code == 1
    # a later slot: resume the incremental first, then send the new snapshot from it
    assert _run(d, 4) == ["resumed tank/bk/data (finished the interrupted receive of tank/data@repl-r-20261203-030000)",
                          "created tank/data@repl-r-20261204-030000",
                          "sent tank/bk/data@repl-r-20261204-030000 (incremental from repl-r-20261203-030000)",
                          "pruned tank/data@repl-r-20261202-030000", "pruned tank/data@repl-r-20261203-030000",
                          "pruned tank/bk/data@repl-r-20261201-030000", "pruned tank/bk/data@repl-r-20261202-030000"]
    assert sorted(n for n in host_snapshots(d) if n.startswith("tank/bk/")) == [
        "tank/bk/data@repl-r-20261203-030000", "tank/bk/data@repl-r-20261204-030000"]
    assert "No changes" in cli("plan", d).output



def test_policies_leave_replication_targets_alone(tmp_path):
    """A snapshot taken on the target would make the next incremental receive fail."""
    d = make_dir(tmp_path, REPL + """snapshot_policies:
  all: {datasets: [tank], recursive: true, schedule: hourly, keep: 5}
""", storage=ZFS_REPL)
    assert cli("apply", d).exit_code == 0
    _run(d, 1)
    ran = cli("run", "snapshot_policy/all", "-C", d, "--at", "2026-12-01T04:00:00Z")
    assert ran.exit_code == 0 and "tank/bk@auto-all-20261201-040000" in ran.stdout
    assert "tank/bk/data@" not in ran.stdout
    assert _run(d, 2)[1] == "sent tank/bk/data@repl-r-20261202-030000 (incremental from repl-r-20261201-030000)"
    with open(os.path.join(d, "policies.yaml"), "a") as f:
        f.write("  bad: {datasets: [tank/bk/data/x, tank/data], schedule: hourly, keep: 5}\n")
    bad = cli("plan", d)
    assert bad.exit_code == 1 and "policies.yaml:5:" in bad.output
    assert "snapshot_policies.bad.datasets.0: tank/bk/data/x is the target of replication 'r'" in bad.output
