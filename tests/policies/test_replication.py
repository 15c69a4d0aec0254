"""Kind replication on the simulated host: full then incremental sends, bases recorded and
protected, keep on the target, never -F into a target with no common snapshot."""

from __future__ import annotations

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
