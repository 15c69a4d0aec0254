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
