"""LXC containers, the Proxmox-style fields: cores, swap, NICs, hostname, nameserver, ssh_keys,
startup_order, description, mounts, state frozen. On the simulated lxc-* tools (which keep the
config and rootfs files as LXC does, and refuse what the kernel refuses), and the promise that
no change of any of them plans a destroy or replace."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge import engine
from converge.errors import ManifestError, PlanError
from converge.hosts import SimHost
from converge.model import Action

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5Y29udmVyZ2V0ZXN0a2V5YWFhYWFhYWFhYWFhYWFh alice@laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYnNrZXlib2Jza2V5Ym9ic2tleWJvYnNrZXliYg bob@desk"
BOX = {"runtime": "lxc", "template": "busybox"}
CONFIG = "/var/lib/lxc/box/config"
KEYS = "/var/lib/lxc/box/rootfs/root/.ssh/authorized_keys"
NOTES = "/var/lib/lxc/box/rootfs/root/notes.txt"
FULL = {**BOX, "cores": 2, "memory": "256M", "swap": "128M", "hostname": "utility", "nameserver": "192.168.1.1 9.9.9.9",
        "ssh_keys": [KEY_A], "startup_order": 2, "description": "a utility box\nsecond line", "onboot": True,
        "network": [{"bridge": "br0", "ip": "192.168.1.30/24", "gateway": "192.168.1.1", "hwaddr": "02:00:00:AA:BB:01"},
                    {"name": "mgmt", "ip6": "fd00::30/64"}],
        "mounts": [{"source": "/srv/media", "target": "/media", "read_only": True}]}


def directory(base: Path, spec: dict, seed: dict | None = None) -> Path:
    base.mkdir(exist_ok=True)
    (base / "converge.yaml").write_text(json.dumps({"sim": {"paths": ["/srv/media", "/srv/data"], "links": ["br0"], **(seed or {})}}))
    (base / "main.yaml").write_text(json.dumps({"containers": {"box": spec}}))
    return base


def host_of(d: Path) -> SimHost:
    return engine.open_target(str(d)).host


def converge(d: Path) -> None:
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok, outcome.report
    assert outcome.replan.empty, outcome.replan.display()


def test_every_field_is_created_and_reads_back_identical(tmp_path):
    d = directory(tmp_path / "nas", FULL, {"statfs": {"/sys/fs/cgroup": "tmpfs"}})
    converge(d)
    host = host_of(d)
    config = host.read_file(CONFIG)
    for line in ("lxc.cgroup.cpuset.cpus = 0-1", "lxc.cgroup.memory.limit_in_bytes = 268435456",
                 "lxc.cgroup.memory.memsw.limit_in_bytes = 402653184", "lxc.start.order = 2",
                 "lxc.net.0.link = br0", "lxc.net.0.name = eth0", "lxc.net.0.ipv4.address = 192.168.1.30/24",
                 "lxc.net.0.ipv4.gateway = 192.168.1.1", "lxc.net.0.hwaddr = 02:00:00:aa:bb:01",
                 "lxc.net.1.link = lxcbr0", "lxc.net.1.name = mgmt", "lxc.net.1.ipv6.address = fd00::30/64",
                 "#converge.description = second line", "lxc.mount.entry = /srv/media media none bind,create=dir,ro 0 0"):
        assert line in config.splitlines(), line
    uts = [line for line in config.splitlines() if line.startswith("lxc.uts.name")]
    assert uts == ["lxc.uts.name = utility", "lxc.uts.name = utility"]  # ours over the template's too
    assert host.run(["lxc-cgroup", "-n", "box", "cpuset.cpus"]).stdout.strip() == "0-1"
    assert host.run(["lxc-cgroup", "-n", "box", "memory.memsw.limit_in_bytes"]).stdout.strip() == "402653184"
    assert KEY_A in host.read_file(KEYS)
    assert host.facts.sim["owners"][KEYS.rsplit("/", 1)[0]][:2] == ["0", "0"]
    assert host.read_file("/var/lib/lxc/box/rootfs/etc/resolv.conf").endswith("nameserver 192.168.1.1\nnameserver 9.9.9.9\n")


def test_one_string_network_still_works_and_reads_back(tmp_path):
    d = directory(tmp_path / "nas", {**BOX, "network": "br0"})
    converge(d)
    assert "lxc.net.0.link = br0" in host_of(d).read_file(CONFIG)


def test_authorized_keys_keeps_the_lines_it_does_not_own(tmp_path):
    d = directory(tmp_path / "nas", {**BOX, "ssh_keys": [KEY_A]})
    converge(d)
    host = host_of(d)
    host.write_file(KEYS, host.read_file(KEYS) + KEY_B + "\n")
    host.flush()
    directory(d, {**BOX, "ssh_keys": [KEY_B]})
    converge(d)
    text = host_of(d).read_file(KEYS)
    assert text.count(KEY_B) == 2 and KEY_A not in text  # the hand-added line stays, converge's block changed


def test_a_symlink_in_the_rootfs_is_never_written_through(tmp_path):
    d = directory(tmp_path / "nas", {**BOX, "state": "stopped"})
    converge(d)
    host = host_of(d)
    host.facts.sim.setdefault("symlinks", {})["/var/lib/lxc/box/rootfs/root/.ssh"] = "/root/.ssh"
    host.changed()
    host.flush()
    directory(d, {**BOX, "state": "stopped", "ssh_keys": [KEY_A]})
    with pytest.raises(PlanError, match="is a symbolic link"):
        engine.plan(engine.open_target(str(d)))


def plan_argv(d: Path) -> list[list[str]]:
    plan, _ = engine.plan(engine.open_target(str(d)))
    (change,) = plan.changes
    assert change.action is Action.UPDATE, plan.display()
    return [s.argv[:1] + s.argv[5:] for s in change.steps if s.op == "run"]


def test_freeze_thaw_and_stop_of_a_frozen_container(tmp_path):
    d = directory(tmp_path / "nas", BOX)
    converge(d)
    directory(d, {**BOX, "state": "frozen"})
    assert plan_argv(d) == [["lxc-freeze"]]
    converge(d)
    assert host_of(d).run(["lxc-info", "-n", "box", "-s"]).stdout.split()[-1] == "FROZEN"
    directory(d, {**BOX, "state": "frozen", "memory": "64M", "env": {"A": "1"}})
    assert plan_argv(d) == [["lxc-unfreeze"], ["lxc-cgroup", "memory.max", "67108864"], ["lxc-stop"], ["lxc-start"],
                            ["lxc-freeze"]]
    converge(d)
    directory(d, {**BOX, "state": "stopped", "memory": "64M", "env": {"A": "1"}})
    assert plan_argv(d) == [["lxc-unfreeze"], ["lxc-stop"]]
    converge(d)


def test_v1_memory_and_swap_go_live_in_an_order_the_kernel_takes(tmp_path):
    v1 = {"statfs": {"/sys/fs/cgroup": "tmpfs"}}
    d = directory(tmp_path / "nas", {**BOX, "memory": "64M", "swap": "64M"}, v1)
    converge(d)
    directory(d, {**BOX, "memory": "512M", "swap": "64M"}, v1)  # above the old memory+swap
    assert [a[1] for a in plan_argv(d) if a[0] == "lxc-cgroup"] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    converge(d)
    directory(d, {**BOX, "memory": "32M", "swap": "16M"}, v1)
    assert [a[1] for a in plan_argv(d) if a[0] == "lxc-cgroup"] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    converge(d)
    host = host_of(d)
    refused = host.run(["lxc-cgroup", "-n", "box", "memory.limit_in_bytes", str(1 << 30)], check=False)
    assert refused.returncode == 1 and "Failed to assign" in refused.stderr  # above memory+swap


def test_v1_swap_no_longer_declared_keeps_its_size_when_memory_grows(tmp_path):
    """memsw holds memory+swap: left as it was, it would sit below the new memory limit (refused
    live, and LXC could not start the container with it)."""
    v1 = {"statfs": {"/sys/fs/cgroup": "tmpfs"}}
    d = directory(tmp_path / "nas", {**BOX, "memory": "64M", "swap": "64M"}, v1)
    converge(d)
    directory(d, {**BOX, "memory": "512M"}, v1)
    converge(d)
    host = host_of(d)
    assert "lxc.cgroup.memory.memsw.limit_in_bytes = 603979776" in host.read_file(CONFIG)
    host.run(["lxc-stop", "-n", "box"])
    host.run(["lxc-start", "-n", "box"])
    assert host.run(["lxc-cgroup", "-n", "box", "memory.memsw.limit_in_bytes"]).stdout.strip() == "603979776"


def test_more_cores_than_the_host_has_is_refused_by_the_simulated_kernel(tmp_path):
    d = directory(tmp_path / "nas", {**BOX, "cores": 2}, {"cpus": 2})
    converge(d)
    refused = host_of(d).run(["lxc-cgroup", "-n", "box", "cpuset.cpus", "0-3"], check=False)
    assert refused.returncode == 1 and "Failed to assign '0-3'" in refused.stderr


@pytest.mark.parametrize("body, message", [
    ({**BOX, "swap": "1G"}, "swap needs memory"),
    ({"image": "busybox", "network": [{"bridge": "br0"}]}, "network as a list of NICs is for lxc"),
    ({"image": "busybox", "state": "frozen"}, "state frozen is for lxc"),
    ({"image": "busybox", "cores": 2}, "cores is for lxc containers"),
    ({**BOX, "network": [{"gateway": "192.168.1.1"}]}, "needs a static ip"),
    ({**BOX, "network": [{"ip": "fd00::1/64"}]}, "give it as ip6"),
    ({**BOX, "network": [{"bridge": "a"}, {"name": "eth0"}]}, "NIC name 'eth0' is given twice"),
    ({**BOX, "network": [{"hwaddr": "zz"}]}, "not a MAC address"),
    ({**BOX, "volumes": ["/srv/data:/data"], "mounts": [{"source": "/srv/media", "target": "/m"}]}, "use one"),
    ({**BOX, "rootfs_size": "1G", "ssh_keys": [KEY_A]}, "loop image"),
    ({**BOX, "ssh_keys": ["not a key"]}, "not an OpenSSH public key"),
    ({**BOX, "hostname": "-bad"}, r"containers.box.hostname: '-bad' is not a hostname"),
])
def test_bad_lxc_input_is_a_clear_error(tmp_path, body, message):
    d = directory(tmp_path / "nas", body)
    with pytest.raises(ManifestError, match=message):
        engine.plan(engine.open_target(str(d)))


NICS = st.lists(st.fixed_dictionaries({}, optional={
    "bridge": st.sampled_from(["br0", "lxcbr0"]),
    "ip": st.sampled_from(["dhcp", "192.168.1.40/24"]),
    "ip6": st.sampled_from(["auto", "fd00::40/64"]),
    "hwaddr": st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:02"]),
}), max_size=2)
FIELDS = st.fixed_dictionaries({}, optional={
    "memory": st.integers(64, 4096).map(lambda m: m * 1024 * 1024),
    "swap": st.integers(0, 1024).map(lambda m: m * 1024 * 1024),
    "cpus": st.sampled_from([0.5, 1, 2]),
    "cores": st.integers(1, 4),
    "pids_limit": st.integers(1, 100000),
    "onboot": st.booleans(),
    "startup_order": st.integers(0, 100),
    "hostname": st.sampled_from(["box", "utility", "h-1"]),
    "description": st.sampled_from(["one", "two\nlines"]),
    "nameserver": st.lists(st.sampled_from(["1.1.1.1", "9.9.9.9", "192.168.1.1"]), max_size=3, unique=True),
    "ssh_keys": st.lists(st.sampled_from([KEY_A, KEY_B]), max_size=2, unique=True),
    "network": st.one_of(st.sampled_from(["none", "bridge", "br0"]), NICS),
    "mounts": st.lists(st.sampled_from([{"source": "/srv/media", "target": "/media", "read_only": True},
                                        {"source": "/srv/data", "target": "/data"}]), max_size=2, unique_by=str),
    "env": st.dictionaries(st.sampled_from(["A", "B"]), st.sampled_from(["1", "2"]), max_size=2),
    "features": st.sampled_from([{}, {"nesting": True}]),
    "state": st.sampled_from(["running", "stopped", "frozen"]),
}).map(lambda f: {k: v for k, v in f.items() if k != "swap" or "memory" in f})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=FIELDS, after=FIELDS, hybrid=st.booleans())
def test_no_change_of_an_lxc_field_but_template_unprivileged_rootfs_size_plans_a_destroy(before, after, hybrid):
    seed = {"statfs": {"/sys/fs/cgroup": "tmpfs"}} if hybrid else {}
    with tempfile.TemporaryDirectory() as tmp:
        d = directory(Path(tmp) / "nas", {**BOX, **before}, seed)
        converge(d)
        host = host_of(d)
        host.write_file(NOTES, "written inside the container\n")
        host.flush()
        directory(d, {**BOX, **after}, seed)
        plan, _ = engine.plan(engine.open_target(str(d)))
        assert all(c.action is Action.UPDATE and not c.destructive for c in plan.changes), plan.display()
        assert not any(s.argv[:1] == ["lxc-destroy"] for c in plan.changes for s in c.steps)
        converge(d)
        host = host_of(d)
        assert host.read_file(NOTES) == "written inside the container\n"
        if after.get("state", "running") != "stopped":
            for key, value in (("cpuset.cpus", after.get("cores")), ("memory.limit_in_bytes" if hybrid else "memory.max",
                                                                     after.get("memory"))):
                if value is not None:
                    expect = str(value) if key != "cpuset.cpus" else ("0" if value == 1 else f"0-{value - 1}")
                    assert host.run(["lxc-cgroup", "-n", "box", key]).stdout.strip() == expect


@pytest.mark.parametrize("argv, rc, message", [
    (["lxc-freeze", "-n", "box"], 1, "Failed to freeze /var/lib/lxc:box"),
    (["lxc-unfreeze", "-n", "box"], 0, ""),
    (["lxc-cgroup", "-n", "box", "memory.max"], 1, "is not running"),
])
def test_simulated_freeze_of_a_stopped_container_answers_as_lxc_does(tmp_path, argv, rc, message):
    host = SimHost(str(tmp_path / "host.json"))
    host.run(["lxc-create", "-n", "box", "-t", "busybox"])
    result = host.run(argv, check=False)
    assert result.returncode == rc and message in result.stderr
    assert host.run(["lxc-info", "-n", "box", "-s"]).stdout.split()[-1] == "STOPPED"


@pytest.mark.parametrize("network, path, message", [
    ([{"ip": "10.0.0.300/24"}], "containers.box.network.0.ip", "is not an address in CIDR form"),
    ([{"ip6": "dhcp"}], "containers.box.network.0.ip6", "(or auto)"),
    ("bad name!", "containers.box.network", "String should match pattern"),
])
def test_a_bad_network_is_one_error_about_the_form_given(tmp_path, network, path, message):
    d = directory(tmp_path / "nas", {**BOX, "network": network})
    with pytest.raises(ManifestError) as caught:
        engine.plan(engine.open_target(str(d)))
    (issue,) = caught.value.issues
    assert issue.path == path and message in issue.message
