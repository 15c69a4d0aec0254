"""A no-op apply reads the host once: with nothing to execute, the plan it just made from those
facts already proves convergence (a second facts pass and plan would only repeat it)."""

from __future__ import annotations

import json

from converge import engine

MANIFEST = """
pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {properties: {quota: 2T}}
"""


def test_noop_apply_reads_the_host_once(tmp_path):
    (tmp_path / "converge.yaml").write_text(json.dumps({"sim": {"disks": {"/dev/sdb": {"size": 1 << 40},
                                                                          "/dev/sdc": {"size": 1 << 40}}}}))
    (tmp_path / "main.yaml").write_text(MANIFEST)
    first = engine.reconcile(engine.open_target(str(tmp_path)))
    assert first.report.ok and first.replan is not None and first.replan.empty  # the proof ran after changes
    planned = engine.open_target(str(tmp_path))
    engine.plan(planned)
    one_pass = len(planned.host.commands)
    applied = engine.open_target(str(tmp_path))
    outcome = engine.reconcile(applied)
    assert outcome.plan.empty and outcome.replan is not None and outcome.replan.empty
    assert len(applied.host.commands) == one_pass, applied.host.commands


MIXED = MANIFEST + """  tank/other: {properties: {quota: 1T}}
groups:
  media: {}
users:
  alice: {groups: [media]}
shares:
  smb:
    media: {path: tank/media, read_only: true}
"""


def test_the_proof_after_an_apply_reads_again_only_what_the_apply_can_have_changed(tmp_path):
    """A quota change of one dataset re-reads ZFS (and what sits on datasets: the SMB share),
    not the accounts, containers or interfaces; the proof still sees the new quota."""
    (tmp_path / "converge.yaml").write_text(json.dumps({"sim": {"disks": {"/dev/sdb": {"size": 1 << 42},
                                                                          "/dev/sdc": {"size": 1 << 42}}}}))
    (tmp_path / "main.yaml").write_text(MIXED)
    assert engine.reconcile(engine.open_target(str(tmp_path))).report.ok
    (tmp_path / "main.yaml").write_text(MIXED.replace("quota: 1T", "quota: 3T"))
    target = engine.open_target(str(tmp_path))
    outcome = engine.reconcile(target)
    assert [str(c.ref) for c in outcome.plan.changes] == ["dataset/tank/other"]
    assert outcome.replan is not None and outcome.replan.empty
    ran = [" ".join(argv) for argv in target.host.commands]
    applied_at = ran.index("zfs set quota=3298534883328 tank/other")
    before, after = ran[:applied_at], ran[applied_at + 1:]
    assert any(c.startswith("getent passwd") for c in before)
    assert not any(c.startswith(("getent", "podman", "ip ", "systemctl list-unit")) for c in after), after
    assert any(c.startswith("zfs get") for c in after) and any(c.startswith("testparm") for c in after)


def test_touched_kinds_follow_what_depends_on_a_changed_kind(tmp_path):
    (tmp_path / "converge.yaml").write_text(json.dumps({"sim": {"disks": {"/dev/sdb": {"size": 1 << 42},
                                                                          "/dev/sdc": {"size": 1 << 42}}}}))
    (tmp_path / "main.yaml").write_text(MIXED)
    target = engine.open_target(str(tmp_path))
    plan, ctx = engine.plan(target)
    pool_change = [c for c in plan.changes if str(c.ref) == "pool/tank"]
    group_change = [c for c in plan.changes if str(c.ref) == "group/media"]
    assert {"pool", "dataset", "smb"} <= engine.touched_kinds(pool_change, ctx) and \
        "user" not in engine.touched_kinds(pool_change, ctx)
    assert engine.touched_kinds(group_change, ctx) >= {"group", "user"}
    assert "dataset" not in engine.touched_kinds(group_change, ctx)
