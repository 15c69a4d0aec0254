"""pyinfra-style case files: tests/cases/kinds/*.yaml. Each case gives the simulated host's seed,
a manifest applied first (the actual state), the manifest to plan, and the exact changes and
commands the plan must hold. Adding a case is adding data, not code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from converge import engine
from converge.model import Ref

CASES = sorted((Path(__file__).parent / "cases" / "kinds").glob("*.yaml"))
LOADED = [(f"{path.stem}:{case['name']}", case) for path in CASES for case in YAML(typ="safe").load(path.read_text())]


def write(directory: Path, seed: dict, manifest: str) -> None:
    (directory / "converge.yaml").write_text(json.dumps({"sim": seed}))
    (directory / "main.yaml").write_text(manifest)


@pytest.mark.parametrize("case", [c for _, c in LOADED], ids=[i for i, _ in LOADED])
def test_case(case, tmp_path):
    d = tmp_path / "nas"
    d.mkdir()
    if case.get("actual"):
        write(d, case.get("seed", {}), case["actual"])
        assert engine.reconcile(engine.open_target(str(d))).report.ok
    write(d, case.get("seed", {}), case["desired"])
    allow = {Ref.parse(r) for r in case.get("allow_destroy", [])}
    plan, _ = engine.plan(engine.open_target(str(d)), allow_destroy=allow)
    got = [{"change": f"{c.action.value} {c.ref}",
            "commands": [s.argv for s in c.steps if s.op == "run"]} | ({"blocked": True} if c.blocked else {})
           for c in plan.changes]
    expected = [{"change": e["change"], "commands": e.get("commands", [])} | ({"blocked": True} if e.get("blocked") else {})
                for e in case["changes"]]
    assert got == expected
    if not any(c.blocked for c in plan.changes):
        outcome = engine.reconcile(engine.open_target(str(d)), allow_destroy=allow)
        assert outcome.report.ok and outcome.replan.empty
