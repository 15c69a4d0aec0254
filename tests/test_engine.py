"""The loop end to end on the simulated host: apply converges, reads are bulk, guards hold,
saved plans go stale, --target limits, failures report and re-runs converge."""

from __future__ import annotations

import json
import shutil

import pytest

from converge import engine
from converge.errors import LockBusy, ManifestError, StalePlan
from converge.executor import execute
from converge.hosts import SimHost
from converge.lock import apply_lock
from converge.model import Action, Ref

DISKS = {"disks": {"/dev/sdb": {"size": 1 << 40}, "/dev/sdc": {"size": 1 << 40}}}


def setup(tmp_path, manifest: str, seed=DISKS):
    d = tmp_path / "nas"
    d.mkdir(parents=True, exist_ok=True)
    (d / "converge.yaml").write_text(json.dumps({"sim": seed}))
    (d / "main.yaml").write_text(manifest)
    return d


def target(d, host=None):
    return engine.open_target(str(d), host)


BASE = """
pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {properties: {quota: 2T, compression: zstd}}
  tank/media/movies: {}
  tank/backup: {properties: {atime: "off"}}
snapshots:
  tank/media@first: {}
"""


def dataset_names(host: SimHost):
    return sorted(host.facts.of("dataset"))


def test_apply_converges_and_second_apply_runs_no_command(tmp_path):
    d = setup(tmp_path, BASE)
    outcome = engine.reconcile(target(d))
    assert outcome.report.ok and outcome.replan is not None and outcome.replan.empty
    assert [c.action for c in outcome.plan.changes] == [Action.CREATE] * 5
    second = engine.reconcile(target(d))
    assert second.plan.empty and second.report.commands == 0


def test_noop_plan_reads_in_bulk(tmp_path):
    counts = []
    for n in (3, 30):
        manifest = BASE.replace("datasets:\n", "datasets:\n" + "".join(
            f"  tank/d{i}: {{properties: {{quota: {i + 1}G}}}}\n" for i in range(n)))
        d = setup(tmp_path / str(n), manifest)
        engine.reconcile(target(d))
        t = target(d)
        plan, _ = engine.plan(t)
        assert plan.empty
        counts.append(len(t.host.commands))
    assert counts[0] == counts[1], f"no-op plan commands grew with the number of resources: {counts}"


def test_update_shows_readable_diff_and_applies(tmp_path):
    d = setup(tmp_path, BASE)
    engine.reconcile(target(d))
    (d / "main.yaml").write_text(BASE.replace("quota: 2T", "quota: 3T"))
    plan, _ = engine.plan(target(d))
    [change] = plan.changes
    assert change.action is Action.UPDATE and str(change.ref) == "dataset/tank/media"
    assert [(x.path, x.before_text, x.after_text) for x in change.diffs] == [("properties.quota", "2T", "3T")]
    assert engine.reconcile(target(d)).replan.empty


def test_destroy_is_refused_without_allow_and_lists_what_it_takes(tmp_path):
    d = setup(tmp_path, BASE)
    engine.reconcile(target(d))
    (d / "main.yaml").write_text(BASE.replace("  tank/media/movies: {}\n", ""))
    plan, _ = engine.plan(target(d))
    [change] = plan.changes
    assert change.action is Action.DELETE and change.blocked and change.destructive
    assert "--allow-destroy dataset/tank/media/movies" in change.blocked
    outcome = engine.reconcile(target(d))
    assert outcome.report.held == [change.ref]
    assert "tank/media/movies" in dataset_names(target(d).host)
    engine.reconcile(target(d), allow_destroy={change.ref})
    assert "tank/media/movies" not in dataset_names(target(d).host)


def test_protect_flag_blocks_destroy_even_with_allow_and_without_yaml(tmp_path):
    d = setup(tmp_path, BASE.replace("tank/backup: {properties: {atime: \"off\"}}",
                                     "tank/backup: {protect: true, properties: {atime: \"off\"}}"))
    engine.reconcile(target(d))
    (d / "main.yaml").write_text(BASE.replace('  tank/backup: {properties: {atime: "off"}}\n', ""))
    ref = Ref(kind="dataset", name="tank/backup")
    plan, _ = engine.plan(target(d), allow_destroy={ref})
    [change] = plan.changes
    assert "protected" in change.blocked
    engine.reconcile(target(d), allow_destroy={ref})
    assert "tank/backup" in dataset_names(target(d).host)


def test_unmanaged_resources_are_never_touched(tmp_path):
    d = setup(tmp_path, BASE)
    t = target(d)
    engine.reconcile(t)
    t = target(d)
    t.host.run(["zfs", "create", "tank/theirs"])
    t.host.flush()
    plan, _ = engine.plan(target(d))
    assert plan.empty


def test_saved_plan_goes_stale_when_the_host_changes(tmp_path):
    d = setup(tmp_path, BASE)
    engine.reconcile(target(d))
    (d / "main.yaml").write_text(BASE.replace("quota: 2T", "quota: 3T"))
    saved, _ = engine.plan(target(d))
    t = target(d)
    t.host.run(["zfs", "set", "quota=5368709120", "tank/media"])  # someone changes the host meanwhile
    t.host.flush()
    with pytest.raises(StalePlan, match="plan is stale"):
        engine.reconcile(target(d), saved=saved)


def test_saved_plan_applies_when_the_host_is_unchanged(tmp_path):
    d = setup(tmp_path, BASE)
    saved, _ = engine.plan(target(d))
    outcome = engine.reconcile(target(d), saved=saved)
    assert outcome.report.ok and outcome.replan.empty


def test_target_limits_the_plan_to_the_resource_and_its_dependencies(tmp_path):
    d = setup(tmp_path, BASE)
    plan, _ = engine.plan(target(d), targets=[Ref(kind="dataset", name="tank/media/movies")])
    assert [str(c.ref) for c in plan.changes] == ["pool/tank", "dataset/tank/media", "dataset/tank/media/movies"]


def test_a_second_apply_waits_for_or_fails_on_the_lock(tmp_path):
    d = setup(tmp_path, BASE)
    t = target(d)
    with apply_lock(t.host.lock_path()):
        with pytest.raises(LockBusy):
            engine.reconcile(target(d))


def test_an_apply_that_waited_for_the_lock_plans_from_what_the_holder_left(tmp_path):
    """Both targets are opened (the simulated host's state read) before either applies, as when
    the CLI waits on a watcher's apply: the second must not redo the first and clobber it."""
    d = setup(tmp_path, BASE)
    first, second = target(d), target(d)
    engine.reconcile(first)
    assert engine.reconcile(second).plan.empty
    (d / "main.yaml").write_text(BASE.replace("quota: 2T", "quota: 3T"))
    first, second = target(d), target(d)
    engine.reconcile(first)
    outside = SimHost(str(d / ".converge" / "sim-host.json"))
    outside.run(["zfs", "set", "atime=on", "tank/backup"])  # drift made meanwhile, outside converge
    outside.flush()
    outcome = engine.reconcile(second)
    assert [str(c.ref) for c in outcome.plan.changes] == ["dataset/tank/backup"]


def test_reference_to_missing_dataset_fails_before_anything_runs(tmp_path):
    d = setup(tmp_path, BASE + "shares:\n  nfs:\n    x: {path: tank/nope, clients: [{host: a}]}\n")
    with pytest.raises(ManifestError, match="dataset 'tank/nope' is not declared"):
        engine.reconcile(target(d))
    assert not (d / ".converge" / "sim-host.json").exists()


def test_import_round_trip_gives_an_empty_plan(tmp_path):
    from converge.adopt import write_manifests

    d = setup(tmp_path, BASE)
    engine.reconcile(target(d))
    state = d / ".converge" / "sim-host.json"
    other = tmp_path / "imported"
    other.mkdir()
    ctx = engine.read_facts(target(d).host)
    write_manifests(ctx.facts, str(other))
    plan, _ = engine.plan(engine.open_target(str(other), f"sim:{state}"))
    assert plan.empty, [str(c.ref) for c in plan.changes]


class FailAt:
    """A host that fails its k-th command (counted from arming), like a disk that errors mid-apply."""

    def __init__(self, inner, k):
        self.inner, self.k, self.seen = inner, k, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def run(self, argv, *, input=None, check=True):
        self.seen += 1
        if self.seen == self.k:
            from converge.errors import CommandFailed

            raise CommandFailed(list(argv), 1, "injected failure: I/O error")
        return self.inner.run(argv, input=input, check=check)


def test_fault_injection_every_command_reports_and_rerun_converges(tmp_path):
    d = setup(tmp_path, BASE)
    plan, _ = engine.plan(target(d))
    total = sum(1 for c in plan.changes for s in c.steps if s.op == "run")
    assert total >= 5
    for k in range(1, total + 1):
        case = tmp_path / f"k{k}"
        shutil.copytree(d, case)
        t = target(case)
        plan, _ = engine.plan(t)
        report = execute(plan, FailAt(t.host, k))
        assert len(report.failed) == 1 and "injected failure" in report.failed[0].error
        failed = report.failed[0].ref
        assert failed not in report.applied
        assert len(report.applied) + 1 + len(report.skipped) == len(plan.changes)
        again = engine.reconcile(target(case))
        assert again.report.ok and again.replan.empty


def test_share_leaves_its_file_before_its_dataset_is_destroyed(tmp_path):
    shares = ("shares:\n  nfs:\n    old: {path: tank/backup, clients: [{network: 10.0.0.0/8, options: [ro]}]}\n"
              "  smb:\n    old: {path: tank/backup}\n")
    d = setup(tmp_path, BASE + shares)
    engine.reconcile(target(d))
    # Remove the dataset and its shares, add a new share: the file is written once, by its own
    # change; the share deletes wait for it, and the dataset's destroy for them.
    new = BASE.replace('  tank/backup: {properties: {atime: "off"}}\n', "") + \
        "shares:\n  nfs:\n    media: {path: tank/media, clients: [{network: 10.0.0.0/8, options: [ro]}]}\n"
    (d / "main.yaml").write_text(new)
    plan, _ = engine.plan(target(d), allow_destroy={Ref(kind="dataset", name="tank/backup")})
    order = [(c.action.value, str(c.ref), [s.path or s.argv[0] for s in c.steps if s.op != "state"])
             for c in plan.changes]
    names = [o[1] for o in order]
    destroy = names.index("dataset/tank/backup")
    assert names.index("nfs/old") < destroy and names.index("smb/old") < destroy
    writes = [o[:2] for o in order if "/etc/exports.d/converge.exports" in o[2]]
    assert writes == [("~", "file//etc/exports.d/converge.exports")]  # once, the whole file
    assert names.index("file//etc/exports.d/converge.exports") < names.index("nfs/old")
    assert names.index("file//etc/samba/converge.conf") < names.index("smb/old")
    deps = {str(c.ref): [str(r) for r in c.depends_on] for c in plan.changes}
    assert "nfs/old" in deps["dataset/tank/backup"] and "file//etc/exports.d/converge.exports" in deps["nfs/old"]
    outcome = engine.reconcile(target(d), allow_destroy={Ref(kind="dataset", name="tank/backup")})
    assert outcome.report.ok and outcome.replan.empty


ROLLBACK = BASE.replace("tank/backup: {properties: {atime: \"off\"}}",
                        "tank/backup: {properties: {atime: \"off\"}, rollback_to: s1, "
                        "rollback_requested: \"2026-11-22T10:00:00Z\"}") + "  tank/backup@s1: {}\n"


def test_corrupt_state_file_stops_the_apply_instead_of_running_a_rollback_again(tmp_path):
    from converge.errors import HostError
    from converge.resources.base import STATE_BACKUP, STATE_FILE

    d = setup(tmp_path, BASE + "  tank/backup@s1: {}\n")
    engine.reconcile(target(d))
    (d / "main.yaml").write_text(ROLLBACK)
    first = engine.reconcile(target(d))
    assert [s.argv for c in first.plan.changes for s in c.steps if s.op == "run"] == [["zfs", "rollback", "tank/backup@s1"]]
    sim = d / ".converge" / "sim-host.json"
    facts = json.loads(sim.read_text())
    good = facts["files"][STATE_FILE]
    assert json.loads(facts["files"][STATE_BACKUP]) != json.loads(good)  # one backup: the state before the write
    facts["files"][STATE_FILE] = good[: len(good) // 2]  # a torn write
    sim.write_text(json.dumps(facts))
    t = target(d)
    with pytest.raises(HostError, match=r"state.json on the host is corrupt.*cp /var/lib/converge/state.json.bak"):
        engine.reconcile(t)
    assert not [a for a in t.host.commands if a[:2] == ["zfs", "rollback"]]
    facts["files"][STATE_FILE] = good
    sim.write_text(json.dumps(facts))
    assert engine.reconcile(target(d)).plan.empty


CONTAINER_ON_DATASET = """
pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {}
  tank/clone: {origin: tank/media@s1}
snapshots:
  tank/media@s1: {}
containers:
  app: {image: "app:1", volumes: ["tank/media:/media:ro"]}
shares:
  nfs:
    media: {path: tank/media, clients: [{network: 10.0.0.0/24}]}
"""


@pytest.mark.parametrize("parallelism", [1, 4])
def test_deletes_follow_host_side_dependencies_in_reverse(tmp_path, parallelism):
    """A container's bind volume, a share's path and a clone's origin are dependencies only on the
    host once the manifests are gone: the dataset (and snapshot) destroys wait for what uses them."""
    seed = dict(DISKS, images=["docker.io/library/app:1"])
    d = setup(tmp_path, CONTAINER_ON_DATASET, seed)
    assert engine.reconcile(target(d)).report.ok
    # a share on a directory inside the dataset, by absolute path (added once the dataset exists)
    t = target(d)
    t.host.facts.sim.setdefault("paths", []).append("/tank/media/music")
    t.host.changed()
    t.host.flush()
    (d / "main.yaml").write_text(CONTAINER_ON_DATASET + "  smb:\n    music: {path: /tank/media/music}\n")
    assert engine.reconcile(target(d)).report.ok
    (d / "main.yaml").write_text("pools:\n  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}\n")
    plan, _ = engine.plan(target(d))
    deps = {str(c.ref): sorted(str(r) for r in c.depends_on) for c in plan.changes}
    exports, include = "file//etc/exports.d/converge.exports", "file//etc/samba/converge.conf"
    assert deps == {"container/app": [], "nfs/media": [exports], "smb/music": [include], "dataset/tank/clone": [],
                    exports: [], include: [],  # the files rewritten without them: before the share deletes
                    "snapshot/tank/media@s1": ["dataset/tank/clone"],
                    "dataset/tank/media": ["container/app", "nfs/media", "smb/music", "snapshot/tank/media@s1"]}
    allow = {c.ref for c in plan.changes}
    t = target(d)
    outcome = engine.reconcile(t, allow_destroy=allow, parallelism=parallelism)
    assert outcome.report.ok and outcome.replan.empty
    ran = [a[:2] + a[-1:] for a in t.host.commands if a[:2] in (["podman", "rm"], ["zfs", "destroy"])]
    assert ran.index(["podman", "rm", "app"]) < ran.index(["zfs", "destroy", "tank/media"])


def test_a_pool_on_disks_the_host_does_not_have_is_a_plan_error_listing_its_disks(tmp_path):
    from converge.errors import PlanError

    d = setup(tmp_path, BASE.replace("[/dev/sdb, /dev/sdc]", "[/dev/sda, /dev/sdb]"))
    with pytest.raises(PlanError, match=r"pool tank: the host has no /dev/sda; its disks are: /dev/sdb, /dev/sdc"):
        engine.plan(target(d))
    d = setup(tmp_path, BASE)
    engine.reconcile(target(d))
    grown = BASE.replace("{type: mirror, disks: [/dev/sdb, /dev/sdc]}",
                         "{type: mirror, disks: [/dev/sdb, /dev/sdc]}, {type: mirror, disks: [/dev/sdd, /dev/sde]}")
    (d / "main.yaml").write_text(grown)
    with pytest.raises(PlanError, match=r"pool tank: the host has no /dev/sdd, /dev/sde; its disks are"):
        engine.plan(target(d))


class VanishingBtrfsHost(SimHost):
    """The simulated host, with a btrfs filesystem that vanishes between `filesystem show` and its
    `filesystem df` (what an unmount racing the bulk read gives on a real host)."""

    def run(self, argv, *, input=None, check=True):
        if list(argv[:3]) == ["btrfs", "filesystem", "df"]:
            from converge.hosts.base import Result, checked

            self.record(argv)
            return checked(argv, Result(1, "", f"ERROR: can't access '{argv[-1]}': No such file or directory\n"), check)
        return super().run(argv, input=input, check=check)


BTRFS_AND_BRIDGE = """
pools:
  bpool: {driver: btrfs, disks: [/dev/sdb]}
interfaces:
  br0: {type: bridge, mtu: 1500}
"""


def test_a_failed_read_of_one_kind_does_not_stop_a_plan_of_other_kinds(tmp_path):
    from converge.errors import PlanError

    d = setup(tmp_path, BTRFS_AND_BRIDGE)
    assert engine.reconcile(target(d)).report.ok

    def vanishing():
        t = target(d)
        t.host = VanishingBtrfsHost(t.host.state_path)
        return t

    (d / "main.yaml").write_text(BTRFS_AND_BRIDGE.replace("mtu: 1500", "mtu: 9000"))
    # Interfaces only: the pool's failed read does not matter, and is said
    outcome = engine.reconcile(vanishing(), targets=[Ref(kind="interface", name="br0")])
    assert [str(c.ref) for c in outcome.plan.changes] == ["batch/interfaces", "interface/br0"] and outcome.report.ok
    assert target(d).host.facts.sim["ip_links"]["br0"]["mtu"] == 9000
    # A plan that needs the pool fails, naming the kind and the command
    for targets in (None, [Ref(kind="pool", name="bpool")]):
        with pytest.raises(PlanError, match=r"reading pool from the host failed: command btrfs filesystem df "
                                            r"-b /bpool failed \(exit 1\).*this plan needs it \(pool/bpool"):
            engine.plan(vanishing(), targets=targets)
    # Nothing declared needs the pool: it is left out (not planned as gone: no destroy), with a warning
    (d / "main.yaml").write_text("interfaces:\n  br0: {type: bridge, mtu: 1400}\n")
    plan, _ = engine.plan(vanishing())
    assert [str(c.ref) for c in plan.changes] == ["batch/interfaces", "interface/br0"]
    assert [w for w in plan.warnings if w.startswith("reading pool from the host failed") and "left out" in w]


def test_a_saved_targeted_plan_is_checked_within_its_targets(tmp_path):
    d = setup(tmp_path, BASE)
    saved, _ = engine.plan(target(d), targets=[Ref(kind="dataset", name="tank/media")])
    assert saved.targets == [Ref(kind="dataset", name="tank/media")]
    saved = type(saved).model_validate_json(saved.model_dump_json())  # as `plan -o` saves it
    outcome = engine.reconcile(target(d), saved=saved)  # the untargeted rest is no convergence failure
    assert outcome.report.ok and outcome.replan.empty and not outcome.notes
    assert sorted(dataset_names(target(d).host)) == ["tank/media"]


SWAP_VOLUME_BEFORE = """
pools:
  tank: {vdevs: [{type: mirror, disks: [/dev/sdb, /dev/sdc]}]}
datasets:
  tank/media: {}
  tank/media/sub: {}
containers:
  app: {image: "app:1", volumes: ["tank/media:/media"]}
"""


@pytest.mark.parametrize("parallelism", [1, 4])
def test_a_delete_waits_for_the_replace_that_stops_using_it(tmp_path, parallelism):
    """The container moves from tank/media to tank/other (a replace) while tank/media is deleted:
    the destroy must wait until the old container is gone, not run in the deletes' phase first."""
    d = setup(tmp_path, SWAP_VOLUME_BEFORE, dict(DISKS, images=["docker.io/library/app:1"]))
    assert engine.reconcile(target(d)).report.ok
    (d / "main.yaml").write_text(SWAP_VOLUME_BEFORE.replace("tank/media: {}\n  tank/media/sub: {}", "tank/other: {}")
                                 .replace("tank/media:/media", "tank/other:/media"))
    plan, _ = engine.plan(target(d))
    deps = {str(c.ref): (c.action.value, sorted(str(r) for r in c.depends_on)) for c in plan.changes}
    assert deps["dataset/tank/media"] == ("-", ["container/app", "dataset/tank/media/sub"])
    assert deps["dataset/tank/media/sub"] == ("-", [])
    assert deps["container/app"] == ("-/+", ["dataset/tank/other"])
    order = [str(c.ref) for c in plan.changes]
    assert order.index("container/app") < order.index("dataset/tank/media")
    t = target(d)
    outcome = engine.reconcile(t, allow_destroy={c.ref for c in plan.changes}, parallelism=parallelism)
    assert outcome.report.ok and outcome.replan.empty
    ran = [a[:2] + a[-1:] for a in t.host.commands if a[:2] in (["podman", "rm"], ["zfs", "destroy"])]
    assert ran.index(["podman", "rm", "app"]) < ran.index(["zfs", "destroy", "tank/media"])


def test_a_share_on_an_absolute_path_waits_for_the_dataset_that_will_hold_it(tmp_path):
    """`path: /tank/media` names the mountpoint of a dataset created in the same plan: the export
    must wait for it (exportfs: 'Failed to stat' when it ran first)."""
    d = setup(tmp_path, BASE.split("shares:")[0] + "shares:\n  nfs:\n    media: {path: /tank/media/movies, clients: [{network: 10.0.0.0/24}]}\n")
    plan, _ = engine.plan(target(d))
    deps = {str(c.ref): sorted(str(r) for r in c.depends_on) for c in plan.changes}
    exports = "file//etc/exports.d/converge.exports"
    assert deps["nfs/media"] == ["dataset/tank/media/movies", exports]
    assert deps[exports] == ["dataset/tank/media/movies"]  # the file that exports it waits for it too
    assert engine.reconcile(target(d)).report.ok


def test_an_apply_limited_to_a_target_it_deletes_converges(tmp_path):
    """`apply --target dataset/tank/backup` after the dataset left the manifests: the delete runs,
    and the proof no longer asks for a target that is gone by design ('neither declared nor present')."""
    d = setup(tmp_path, BASE)
    assert engine.reconcile(target(d)).report.ok
    (d / "main.yaml").write_text(BASE.replace('  tank/backup: {properties: {atime: "off"}}\n', ""))
    ref = Ref.parse("dataset/tank/backup")
    outcome = engine.reconcile(target(d), targets=[ref], allow_destroy={ref})
    assert outcome.report.ok and [str(c.ref) for c in outcome.plan.changes] == ["dataset/tank/backup"]
    assert "tank/backup" not in dataset_names(target(d).host)
