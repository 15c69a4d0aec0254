"""Executing a plan: order, parallel branches, failures skip only their dependents, held changes."""

from __future__ import annotations

import json

from converge.executor import execute
from converge.model import Action, Change, Plan, Ref, Step
from converge.resources.base import STATE_FILE


def ref(name):
    return Ref(kind="dataset", name=name)


def write(path, text="x"):
    return Step(op="write", path=path, content=text)


def failing():
    return Step(argv=["no-such-tool", "--now"])  # the simulated host answers 127, as a real one would


def change(name, *steps, deps=(), action=Action.CREATE, blocked=""):
    return Change(ref=ref(name), action=action, steps=list(steps), depends_on=[ref(d) for d in deps], blocked=blocked)


def test_failure_skips_dependents_and_independent_branches_complete(sim):
    plan = Plan(changes=[change("p/a", failing()), change("p/a/b", write("/b"), deps=["p/a"]),
                         change("p/a/b/c", write("/c"), deps=["p/a/b"]), change("p/x", write("/x"))])
    report = execute(plan, sim, parallelism=2)
    assert report.applied == [ref("p/x")]
    assert [(f.ref, f.step) for f in report.failed] == [(ref("p/a"), "no-such-tool --now")]
    assert "command not found" in report.failed[0].error
    assert report.skipped == [(ref("p/a/b"), ref("p/a")), (ref("p/a/b/c"), ref("p/a"))]
    assert sim.read_file("/x") == "x" and sim.read_file("/b") is None


def test_dependencies_run_first_even_in_parallel(sim):
    order = []

    def on_event(what, c, detail):
        if what == "done":
            order.append(c.ref.name)

    plan = Plan(changes=[change("p/a", write("/a")), change("p/a/b", write("/b"), deps=["p/a"]),
                         change("p/q", write("/q")), change("p/a/b/c", write("/c"), deps=["p/a/b"])])
    report = execute(plan, sim, parallelism=4, on_event=on_event)
    assert report.ok and len(report.applied) == 4
    assert order.index("p/a") < order.index("p/a/b") < order.index("p/a/b/c")


def test_deletes_run_before_creates(sim):
    order = []
    plan = Plan(changes=[change("p/new", write("/new")), change("p/old", Step(op="remove", path="/old"),
                                                                   action=Action.DELETE)])
    sim.write_file("/old", "data")
    execute(plan, sim, parallelism=4, on_event=lambda w, c, d: order.append(c.ref.name) if w == "started" else None)
    assert order == ["p/old", "p/new"]
    assert sim.read_file("/old") is None


def test_held_change_is_not_run_and_its_dependents_are_skipped(sim):
    plan = Plan(changes=[change("p/a", write("/a"), blocked="needs --allow-destroy"),
                         change("p/a/b", write("/b"), deps=["p/a"]), change("p/z", write("/z"))])
    report = execute(plan, sim)
    assert report.held == [ref("p/a")] and report.skipped == [(ref("p/a/b"), ref("p/a"))]
    assert report.applied == [ref("p/z")] and sim.read_file("/a") is None


def test_state_steps_are_recorded_on_the_host(sim):
    plan = Plan(changes=[change("p/a", Step(op="state", state={"managed.dataset/p/a": True,
                                                               "stamps.pool/p:scrub_requested": "2026-11-22T10:00:00Z"}))])
    execute(plan, sim)
    state = json.loads(sim.read_file(STATE_FILE))
    assert state == {"managed": {"dataset/p/a": True}, "stamps": {"pool/p:scrub_requested": "2026-11-22T10:00:00Z"}}
    execute(Plan(changes=[change("p/a", Step(op="state", state={"managed.dataset/p/a": None}))]), sim)
    assert json.loads(sim.read_file(STATE_FILE))["managed"] == {}


def test_secrets_never_reach_the_report(sim):
    step = Step(argv=["no-such-tool", "--env", "TOKEN=hunter2"], redact=["hunter2"])
    report = execute(Plan(changes=[change("p/a", step)]), sim)
    assert "hunter2" not in report.failed[0].step and "(sensitive)" in report.failed[0].step


def test_storage_changes_run_one_at_a_time_beside_the_others(sim, monkeypatch):
    """zfs-fuse loses a FUSE mount made beside another (a `zfs create` next to a `zpool create`
    hung in CI): pools, datasets and snapshots share one lane; other kinds run beside them."""
    import threading
    import time

    running: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def run(argv, input=None, check=True):
        lane = "storage" if argv[0] in ("zpool", "zfs") else argv[0]
        with lock:
            running[lane] = running.get(lane, 0) + 1
            most[lane] = max(most.get(lane, 0), running[lane])
            most["all"] = max(most.get("all", 0), sum(running.values()))
        time.sleep(0.05)
        with lock:
            running[lane] -= 1

    monkeypatch.setattr(sim, "run", run)
    storage = [Change(ref=Ref(kind="pool", name=p), action=Action.CREATE, steps=[Step(argv=["zpool", "create", p])])
               for p in ("p", "q")]
    storage += [change(f"{p}/d{i}", Step(argv=["zfs", "create", f"{p}/d{i}"])) for p in ("p", "q") for i in range(3)]
    others = [Change(ref=Ref(kind="user", name=f"u{i}"), action=Action.CREATE, steps=[Step(argv=["useradd", f"u{i}"])])
              for i in range(3)]
    report = execute(Plan(changes=storage + others), sim, parallelism=4)
    assert report.ok and len(report.applied) == 11
    assert most["storage"] == 1
    assert most["useradd"] >= 2 and most["all"] >= 3  # the others are not held back
