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


def test_quota_enable_runs_once_per_filesystem(tmp_path):
    (tmp_path / "converge.yaml").write_text(json.dumps({"sim": {"disks": {"/dev/sdc": {"size": 1 << 40},
                                                                          "/dev/sdd": {"size": 1 << 40}}}}))
    (tmp_path / "main.yaml").write_text(MANIFEST)
    target = engine.open_target(str(tmp_path))
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
