"""LXC containers: the driver on recorded LXC 5.0.2 output (tests/fixtures/lxc/, recorded on
Debian 12 with lxc 1:5.0.2-1+deb12u4 and the busybox template), the simulated lxc-* tools against
the same recordings, and the planner's promise that the rootfs survives every change but those
that need a new rootfs (template, unprivileged, rootfs size), which are guarded destroys."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge import engine
from converge.errors import ManifestError
from converge.formats import lxc as conf
from converge.hosts import SimHost
from converge.model import Action, Ref
from converge.resources import Context
from converge.resources.containers.lxc import LxcDriver, parse_ls

from .recorded import FIXTURES, RecordedHost, fixture

ROOTFS_FILE = "/var/lib/lxc/box/rootfs/root/notes.txt"


def config_file() -> str:
    """The recorded config as LXC wrote it (its own `#` lines included: its source is in SOURCES.md)."""
    return (Path(FIXTURES) / "lxc" / "config-busybox.txt").read_text(encoding="utf-8")


class RecordedLxcHost(RecordedHost):
    """Recorded answers for commands, and the recorded config file for reads."""

    def __init__(self, answers, files):  # noqa: ANN001
        super().__init__(answers)
        self.files = files

    def read_file(self, path):  # noqa: ANN001
        return self.files.get(path)

    def has(self, tool):  # noqa: ANN001
        return tool.startswith("lxc-")


def recorded_host() -> RecordedLxcHost:
    config = config_file()
    idle = config.split("lxc.cgroup.memory")[0] + "lxc.net.0.type = empty\nlxc.start.auto = 0\n"
    return RecordedLxcHost({("lxc-ls",): fixture("lxc/lxc-ls-fancy.txt"), ("stat",): fixture("lxc/stat-cgroup.txt")},
                           {"/var/lib/lxc/web/config": config, "/var/lib/lxc/idle/config": idle})


# -- recorded real output -----------------------------------------------------------------------
def test_lxc_ls_fancy_as_recorded():
    assert parse_ls(fixture("lxc/lxc-ls-fancy.txt")) == [("idle", "STOPPED"), ("web", "RUNNING")]
    assert parse_ls("") == []  # lxc-ls prints nothing at all for an empty lxcpath


def test_config_written_by_lxc_create_reads_back_as_the_spec():
    spec = conf.spec_from_config(config_file())
    assert spec == {"runtime": "lxc", "template": "busybox", "memory": 268435456, "cpus": 0.5, "pids_limit": 200,
                    "onboot": True, "network": "none", "volumes": ["/srv/media:/srv/media:ro"],
                    "env": {"GREETING": "hello"}, "command": ["/bin/sleep", "1000"], "features": {},
                    "unprivileged": False, "hostname": "web"}  # the busybox template's own /lib binds and shm are no volumes


def test_driver_reads_recorded_host_in_one_command():
    host = recorded_host()
    observed = LxcDriver().read(Context(host=host))
    assert host.commands == [["lxc-ls", "-P", "/var/lib/lxc", "--fancy", "--fancy-format", "NAME,STATE,AUTOSTART"]]
    assert observed["web"].spec["state"] == "running" and observed["web"].spec["memory"] == 268435456
    assert observed["idle"].spec == {"runtime": "lxc", "template": "busybox", "network": "none", "onboot": False,
                                     "state": "stopped", "unprivileged": False, "env": {}, "labels": {},
                                     "features": {}, "volumes": [], "persist": True}


def test_hybrid_cgroup_host_gets_v1_key_names():
    ctx = Context(host=recorded_host())
    assert LxcDriver().cgroup(ctx) == 1  # `stat -f -c %T /sys/fs/cgroup` said tmpfs (v1 controllers)


def test_in_place_edit_of_the_recorded_config_changes_only_that_key():
    text = config_file()
    spec = type("S", (), {"memory": 536870912})()
    edited = conf.edit(text, spec, {"memory"}, [], 1)
    before, after = text.splitlines(), edited.splitlines()
    assert [line for line in before if line not in after] == ["lxc.cgroup.memory.limit_in_bytes = 268435456"]
    assert [line for line in after if line not in before] == ["lxc.cgroup.memory.limit_in_bytes = 536870912"]
    assert conf.spec_from_config(edited)["memory"] == 536870912


def test_in_place_volume_edit_keeps_the_templates_mount_entries():
    text = config_file()
    spec = type("S", (), {"volumes": ["/data:/data"]})()
    edited = conf.edit(text, spec, {"volumes"}, [("/data", "/data", "")], 1)
    assert "lxc.mount.entry = /lib lib none ro,bind 0 0" in edited
    assert "/srv/media" not in edited and conf.spec_from_config(edited)["volumes"] == ["/data:/data"]


# -- the simulated lxc-* tools answer as the recorded real ones -----------------------------------
def sim(tmp_path: Path, **seed) -> SimHost:  # noqa: ANN003
    return SimHost(str(tmp_path / "host.json"), seed=seed)


def test_simulated_tools_print_what_the_real_ones_printed(tmp_path):
    host = sim(tmp_path, statfs={"/sys/fs/cgroup": "tmpfs"}, paths=["/srv/media"])
    body = config_file().split("(Be aware this has security implications)\n\n")[1]
    given_keys = body.split("lxc.rootfs.path")[0]
    host.write_file("/tmp/web.conf", given_keys)
    host.write_file("/tmp/idle.conf", "lxc.net.0.type = empty\nlxc.start.auto = 0\n")
    host.run(["lxc-create", "-P", "/var/lib/lxc", "-n", "web", "-f", "/tmp/web.conf", "-t", "busybox"])
    host.run(["lxc-create", "-P", "/var/lib/lxc", "-n", "idle", "-f", "/tmp/idle.conf", "-t", "busybox"])
    host.run(["lxc-start", "-P", "/var/lib/lxc", "-n", "web"])
    assert host.read_file("/var/lib/lxc/web/config") == config_file()
    ls = ["lxc-ls", "-P", "/var/lib/lxc", "--fancy", "--fancy-format", "NAME,STATE,AUTOSTART"]
    assert host.run(ls).stdout == fixture("lxc/lxc-ls-fancy.txt")
    assert host.run(["lxc-cgroup", "-P", "/var/lib/lxc", "-n", "web", "memory.limit_in_bytes"]).stdout \
        == fixture("lxc/lxc-cgroup-memory.txt")
    assert host.run(["lxc-info", "-P", "/var/lib/lxc", "-n", "web", "-s"]).stdout == fixture("lxc/lxc-info-s.txt")
    assert host.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]).stdout == fixture("lxc/stat-cgroup.txt")


@pytest.mark.parametrize("argv, rc, message", [
    (["lxc-create", "-n", "box", "-t", "busybox"], 1, "Container already exists"),
    (["lxc-create", "-n", "other", "-t", "nosuch"], 1, 'Template "nosuch" not found'),
    (["lxc-destroy", "-n", "box"], 1, "box is running"),
    (["lxc-destroy", "-n", "nope"], 1, "Container is not defined"),
    (["lxc-start", "-n", "nope"], 1, "No container config specified"),
    (["lxc-cgroup", "-n", "box", "memory.max"], 1, "Failed to retrieve value of 'memory.max'"),  # a v1 host
    (["lxc-cgroup", "-n", "box", "memory.limit_in_bytes", "lots"], 1, "Failed to assign 'lots'"),
    (["lxc-info", "-n", "nope"], 1, "nope doesn't exist"),
])
def test_simulated_tools_refuse_what_lxc_refuses(tmp_path, argv, rc, message):
    host = sim(tmp_path, statfs={"/sys/fs/cgroup": "tmpfs"})
    host.run(["lxc-create", "-n", "box", "-t", "busybox"])
    host.run(["lxc-start", "-n", "box"])
    result = host.run(argv, check=False)
    assert (result.returncode, message in result.stderr) == (rc, True), result


def test_simulated_stop_destroy_and_a_missing_bind_source(tmp_path):
    host = sim(tmp_path)
    host.write_file("/tmp/c.conf", "lxc.mount.entry = /nowhere srv none bind,create=dir 0 0\n")
    host.run(["lxc-create", "-n", "box", "-f", "/tmp/c.conf", "-t", "busybox"])
    start = host.run(["lxc-start", "-n", "box"], check=False)
    assert start.returncode == 1 and "The container failed to start" in start.stderr
    assert host.run(["lxc-stop", "-n", "box"], check=False).returncode == 2  # not running
    assert host.read_file("/var/lib/lxc/box/rootfs/etc/hostname") == "box\n"
    host.run(["lxc-destroy", "-n", "box"])
    assert not [p for p in host.facts.files if p.startswith("/var/lib/lxc/box/")]
    assert host.run(["lxc-ls", "--fancy"]).stdout == ""


# -- plans: the rootfs survives every change that does not need a new one --------------------------
BOX = {"runtime": "lxc", "template": "busybox", "network": "none"}


def directory(base: Path, spec: dict, seed: dict | None = None) -> Path:
    base.mkdir(exist_ok=True)
    (base / "converge.yaml").write_text(json.dumps({"sim": seed or {}}))
    (base / "main.yaml").write_text(json.dumps({"containers": {"box": spec}}))
    return base


def put_rootfs_file(d: Path) -> None:
    target = engine.open_target(str(d))
    target.host.write_file(ROOTFS_FILE, "written inside the container\n")
    target.host.flush()


def rootfs_file(d: Path) -> str | None:
    return engine.open_target(str(d)).host.read_file(ROOTFS_FILE)


LIMITS = st.fixed_dictionaries({}, optional={
    "memory": st.integers(6, 8192).map(lambda m: m * 1024 * 1024),
    "cpus": st.sampled_from([0.25, 0.5, 1, 1.5, 2, 4]),
    "pids_limit": st.integers(1, 100000),
    "onboot": st.booleans(),
    "state": st.sampled_from(["running", "stopped"]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=LIMITS, after=LIMITS, hybrid=st.booleans())
def test_any_lxc_limit_change_is_in_place_and_keeps_the_rootfs(before, after, hybrid):
    seed = {"statfs": {"/sys/fs/cgroup": "tmpfs"}} if hybrid else {}
    with tempfile.TemporaryDirectory() as tmp:
        d = directory(Path(tmp) / "nas", {**BOX, **before}, seed)
        assert engine.reconcile(engine.open_target(str(d))).report.ok
        put_rootfs_file(d)
        directory(d, {**BOX, **after}, seed)
        plan, _ = engine.plan(engine.open_target(str(d)))
        assert all(c.action is Action.UPDATE for c in plan.changes), plan.display()
        assert not any(s.argv[:1] == ["lxc-destroy"] for c in plan.changes for s in c.steps)
        outcome = engine.reconcile(engine.open_target(str(d)))
        assert outcome.report.ok and outcome.replan.empty
        assert rootfs_file(d) == "written inside the container\n"
        host = engine.open_target(str(d)).host
        if after.get("memory") and after.get("state", "running") == "running":
            key = "memory.limit_in_bytes" if hybrid else "memory.max"
            assert host.run(["lxc-cgroup", "-n", "box", key]).stdout.strip() == str(after["memory"])


def test_template_change_is_refused_then_allowed_and_takes_the_rootfs(tmp_path):
    d = directory(tmp_path / "nas", BOX)
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    put_rootfs_file(d)
    directory(d, {**BOX, "template": "alpine"})
    plan, _ = engine.plan(engine.open_target(str(d)))
    (change,) = plan.changes
    assert change.action is Action.REPLACE and change.destructive
    assert "--allow-destroy container/box" in change.blocked
    assert any("rootfs" in what for what in change.destroys)
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert not outcome.report.ok or outcome.report.held
    assert rootfs_file(d) == "written inside the container\n"  # refused: nothing ran
    outcome = engine.reconcile(engine.open_target(str(d)), allow_destroy={Ref.parse("container/box")})
    assert outcome.report.ok and outcome.replan.empty
    assert rootfs_file(d) is None
    assert "lxc-alpine" in engine.open_target(str(d)).host.read_file("/var/lib/lxc/box/config")


def test_private_lxc_path_setting_is_used(tmp_path):
    d = directory(tmp_path / "nas", BOX)
    (d / "converge.yaml").write_text(json.dumps({"sim": {}, "settings": {"container": {"lxc_path": "/srv/lxc"}}}))
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    assert engine.open_target(str(d)).host.read_file("/srv/lxc/box/config") is not None


@pytest.mark.parametrize("body, message", [
    ({**BOX, "command": ["sh", "-c", "sleep 1000"]}, "LXC splits lxc.init.cmd on blanks"),
    ({**BOX, "labels": {"team": "a"}}, "lxc containers have no labels"),
    ({**BOX, "image": "busybox"}, "takes template, not image"),
])
def test_lxc_input_that_could_never_converge_is_refused(tmp_path, body, message):
    d = directory(tmp_path / "nas", body)
    with pytest.raises(ManifestError, match=message):
        engine.plan(engine.open_target(str(d)))


def test_a_facts_snapshot_of_a_real_host_plans_its_lxc_containers_as_present(tmp_path):
    """`converge facts` of a host with LXC containers, then a plan against that snapshot."""
    d = directory(tmp_path / "nas", {**BOX, "memory": "256M", "onboot": True})
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    facts = engine.read_facts(engine.open_target(str(d)).host).facts
    assert facts.resources["container"]["box"].spec["memory"] == 256 * 1024 * 1024
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(facts.model_copy(update={"files": {}}).model_dump_json())  # the files stay on the host
    plan, _ = engine.plan(engine.open_target(str(d), host=f"sim:{snapshot}"))
    assert plan.empty, plan.display()
