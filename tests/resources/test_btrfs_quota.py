"""A btrfs first apply enables quotas once per filesystem, however many subvolumes get a quota."""

from __future__ import annotations

import json

from converge import engine

MANIFEST = """
pools:
  bt: {driver: btrfs, disks: [/dev/sdc]}
  bt2: {driver: btrfs, disks: [/dev/sdd]}
datasets:
  bt/a: {properties: {quota: 1G}}
  bt/a/b: {properties: {quota: 2G}}
  bt/c: {properties: {quota: 3G}}
  bt2/d: {properties: {quota: 4G}}
  bt2/e: {}
"""


def _target(tmp_path):
    (tmp_path / "converge.yaml").write_text(json.dumps({"sim": {"disks": {"/dev/sdc": {"size": 1 << 40},
                                                                          "/dev/sdd": {"size": 1 << 40}}}}))
    (tmp_path / "main.yaml").write_text(MANIFEST)
    return engine.open_target(str(tmp_path))


def test_quota_enable_is_one_explicit_change_per_filesystem(tmp_path):
    """Each filesystem's enable is its own `batch quota/POOL` change that the limits wait for; no
    dataset change carries (or lost to another) an enable step."""
    plan, _ = engine.plan(_target(tmp_path))
    by_name = {str(c.ref): c for c in plan.changes}
    for pool, carried in (("bt", ["dataset/bt/a", "dataset/bt/a/b", "dataset/bt/c"]), ("bt2", ["dataset/bt2/d"])):
        joint = by_name[f"batch/quota/{pool}"]
        assert [s.argv for s in joint.steps] == [["btrfs", "quota", "enable", f"/{pool}"]]
        assert sorted(n for n, c in by_name.items() if joint.ref in c.depends_on) == carried
    assert not any(s.argv[:3] == ["btrfs", "quota", "enable"] for c in plan.changes if c.ref.kind == "dataset"
                   for s in c.steps)
    assert all(by_name["batch/quota/bt"].ref not in c.depends_on for c in plan.changes if "bt2" in c.ref.name)


def test_quota_enable_runs_once_per_filesystem(tmp_path):
    target = _target(tmp_path)
    outcome = engine.reconcile(target, parallelism=4)
    assert outcome.report.ok and outcome.replan is not None and outcome.replan.empty
    ran = target.host.commands
    assert sorted(a for a in ran if a[:3] == ["btrfs", "quota", "enable"]) == [
        ["btrfs", "quota", "enable", "/bt"], ["btrfs", "quota", "enable", "/bt2"]]
    limits = [a for a in ran if a[:3] == ["btrfs", "qgroup", "limit"]]
    assert len(limits) == 4
    for path in ("/bt", "/bt2"):  # every limit on a filesystem comes after its quota enable
        enable = ran.index(["btrfs", "quota", "enable", path])
        assert all(ran.index(a) > enable for a in limits if a[-1].startswith(path + "/"))
