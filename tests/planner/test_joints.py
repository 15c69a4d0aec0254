"""Explicit changes for what several changes share (a kind's shared file, the interfaces' one
`ip -batch`, a stop before a port swap) and ordering through edges: a plan reader sees each change's
own steps only, and the shared work once, as a change of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from converge import engine
from converge.model import JOINT_KINDS, Action, Plan, Ref

HOMELAB = Path(__file__).resolve().parents[2] / "examples" / "homelab"
INCLUDE, EXPORTS = Ref.of("file", "/etc/samba/converge.conf"), Ref.of("file", "/etc/exports.d/converge.exports")


@pytest.fixture
def homelab(tmp_path: Path) -> Path:
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d)
    return d


def _own_steps(plan: Plan) -> dict[Ref, list[dict]]:
    return {c.ref: [s.model_dump() for s in c.steps] for c in plan.changes if c.ref.kind not in JOINT_KINDS}


def test_each_change_carries_its_own_steps_only(homelab: Path) -> None:
    """A change's steps are the same whether it is planned with everything else or alone
    (--target): no change carries another's steps, and what several share is a change of its own."""
    whole, _ = engine.plan(engine.open_target(str(homelab)))
    for ref, steps in _own_steps(whole).items():
        if ref.kind in ("user", "group"):  # an undeclared uid/gid is allocated among those created with it
            continue
        alone, _ = engine.plan(engine.open_target(str(homelab)), targets=[ref])
        assert _own_steps(alone)[ref] == steps, ref
    by_ref = {c.ref: c for c in whole.changes}
    # the shares run nothing themselves; each waits for the file it lives in, which lists them
    for ref, file in ((Ref.of("smb", "media"), INCLUDE), (Ref.of("nfs", "scratch"), EXPORTS)):
        assert by_ref[ref].steps == [] and file in by_ref[ref].depends_on
    assert by_ref[INCLUDE].action is Action.CREATE and by_ref[INCLUDE].after["entries"] == ["backups", "media"]
    assert by_ref[EXPORTS].after["entries"] == ["media", "scratch"]
    assert by_ref[EXPORTS].reason == "written for nfs/media, nfs/scratch"
    # the share file waits for what its shares need (the datasets they are on, the accounts they name)
    assert {"dataset/tank/media", "dataset/tank/backups", "user/alice"} <= {str(r) for r in by_ref[INCLUDE].depends_on}
    batch = by_ref[Ref.of("batch", "interfaces")]
    assert [s.argv[:2] for s in batch.steps if s.op == "run"] == [["ip", "-batch"]]
    assert all(s.op == "state" for r in (Ref.of("interface", "br0"), Ref.of("interface", "eno1"))
               for s in by_ref[r].steps)
    resources = [c for c in whole.changes if c.ref.kind not in JOINT_KINDS]  # the summary counts resources only
    assert whole.summary() == {"create": sum(c.action is Action.CREATE for c in resources),
                               "update": sum(c.action is Action.UPDATE for c in resources),
                               "replace": 0, "delete": 0, "blocked": 0}
    assert len(resources) < len(whole.changes)


def test_the_shared_files_are_written_once_and_a_saved_plan_applies(homelab: Path) -> None:
    plan, _ = engine.plan(engine.open_target(str(homelab)))
    saved = Plan.model_validate(json.loads(plan.model_dump_json()))
    t = engine.open_target(str(homelab))
    outcome = engine.reconcile(t, saved=saved)
    assert outcome.report.ok and outcome.replan.empty
    ran = t.host.commands
    assert sum(a[:2] == ["testparm", "-s"] and a[2].endswith(".candidate") for a in ran) == 1
    assert ran.count(["exportfs", "-ra"]) == 1 and sum(a[:2] == ["ip", "-batch"] for a in ran) == 1
    assert {INCLUDE, EXPORTS} <= set(outcome.report.applied)


NFS = "shares:\n  nfs:\n{}"
EXPORT = "    {0}: {{path: /srv/{0}, clients: [{{network: 10.0.0.0/8, options: [ro]}}]}}\n"


def _nas(tmp_path: Path, names: list[str]) -> Path:
    d = tmp_path / "nas"
    d.mkdir(exist_ok=True)
    (d / "converge.yaml").write_text(json.dumps({"sim": {"paths": ["/srv/a", "/srv/b", "/srv/c"]}}))
    (d / "main.yaml").write_text(NFS.format("".join(EXPORT.format(n) for n in names)))
    return d


def test_a_held_delete_holds_the_file_that_would_carry_it(tmp_path: Path) -> None:
    """The watcher holds destroys for approval: the exports file written without the held export
    would remove it anyway, so the file's change waits with it, and so does the new export."""
    d = _nas(tmp_path, ["a", "b"])
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    _nas(tmp_path, ["a", "c"])
    t = engine.open_target(str(d))
    before = t.host.facts.files[EXPORTS.name]
    outcome = engine.reconcile(t, hold_destroys=True)
    report = outcome.report
    assert set(report.held) == {Ref.of("nfs", "b"), EXPORTS}
    assert Ref.of("nfs", "c") in {r for r, _ in report.skipped}
    assert engine.open_target(str(d)).host.facts.files[EXPORTS.name] == before  # nothing written
    blocked = {str(c.ref): c.blocked for c in outcome.plan.changes if c.blocked}
    assert blocked[str(EXPORTS)].startswith(f"{EXPORTS} waits with nfs/b: nfs/b: destroy held for approval")
    outcome = engine.reconcile(engine.open_target(str(d)), allow_destroy={Ref.of("nfs", "b")}, hold_destroys=True)
    assert outcome.report.ok and outcome.replan.empty


def test_a_target_writes_the_file_with_only_its_own_entry_changed(tmp_path: Path) -> None:
    d = _nas(tmp_path, ["a"])
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    _nas(tmp_path, ["a", "b", "c"])
    outcome = engine.reconcile(engine.open_target(str(d)), targets=[Ref.of("nfs", "b")])
    assert [str(c.ref) for c in outcome.plan.changes] == [str(EXPORTS), "nfs/b"]
    assert outcome.plan.changes[0].after["entries"] == ["a", "b"] and outcome.replan.empty
    plan, _ = engine.plan(engine.open_target(str(d)))
    assert [f"{c.action.value} {c.ref}" for c in plan.changes] == [f"~ {EXPORTS}", "+ nfs/c"]


def test_a_port_taken_from_another_container_is_an_edge_not_a_step(tmp_path: Path) -> None:
    """b takes the port a holds while a moves elsewhere: b waits for a's change (an edge in the
    plan's graph); neither carries a step of the other, and no stop is needed."""
    d = tmp_path / "c"
    d.mkdir()
    (d / "converge.yaml").write_text(json.dumps({"sim": {"images": ["docker.io/library/app:1"]}}))
    (d / "main.yaml").write_text("containers:\n  a: {image: 'app:1', ports: ['9000:80']}\n")
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    (d / "main.yaml").write_text("containers:\n  a: {image: 'app:1', ports: ['9001:80']}\n"
                                 "  b: {image: 'app:1', ports: ['9000:80']}\n")
    plan, _ = engine.plan(engine.open_target(str(d)))
    by_ref = {str(c.ref): c for c in plan.changes}
    assert list(by_ref) == ["container/a", "container/b"]
    assert by_ref["container/b"].depends_on == [Ref.of("container", "a")]
    assert all(s.argv[-1] == "b" or "b" in s.argv for s in by_ref["container/b"].steps if s.op == "run")
    assert engine.reconcile(engine.open_target(str(d)), parallelism=4).report.ok


def test_order_puts_a_joint_between_what_its_changes_need_and_the_deletes_it_carries() -> None:
    """Edges, not step surgery: the file waits for the dataset its new share is on; the share
    it drops waits for the file; the dataset under the dropped share waits for that share."""
    from converge.model import Change
    from converge.planner.order import order_changes
    from converge.resources.base import Context

    new, old = Ref.of("dataset", "tank/new"), Ref.of("dataset", "tank/old")
    add, drop = Ref.of("nfs", "new"), Ref.of("nfs", "old")
    changes = [Change(ref=old, action=Action.DELETE), Change(ref=drop, action=Action.DELETE, depends_on=[old, EXPORTS]),
               Change(ref=new, action=Action.CREATE), Change(ref=add, action=Action.CREATE, depends_on=[new, EXPORTS]),
               Change(ref=EXPORTS, action=Action.UPDATE, depends_on=[new])]
    ordered = order_changes(changes, Context(host=None))  # type: ignore[arg-type]
    assert [c.ref for c in ordered] == [new, EXPORTS, add, drop, old]
    deps = {c.ref: c.depends_on for c in ordered}
    assert deps[drop] == [EXPORTS] and deps[old] == [drop] and deps[EXPORTS] == [new] and deps[add] == [new, EXPORTS]
