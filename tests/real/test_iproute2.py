"""The interface kind against real iproute2, in network namespaces this test creates and
deletes by name (never this machine's own links). Checked with `ip -j`, not converge's reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from isolation import note_leftovers, unique_name, wait_for

from converge import engine
from converge.hosts import NetnsHost
from converge.resources.network import guard, netguard

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def new_netns() -> str:
    name = unique_name()
    r = sh("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        pytest.fail(f"cannot create network namespace {name}: {r.stderr.strip()}")
    return name


def netns_pids(name: str) -> list[int]:
    return [int(p) for p in sh("ip", "netns", "pids", name, check=False).stdout.split()]


def kill_all(name: str, sig: int) -> None:
    for pid in netns_pids(name):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@pytest.fixture
def netns() -> Iterator[str]:
    """Network namespaces named for this run; deleted by name, after every process inside them
    (a rollback watchdog a test left waiting) is stopped by PID."""
    note_leftovers("network namespace", [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines()
                                         if line.strip()], "ip netns del NAME")
    made: list[str] = []

    def make() -> str:
        made.append(new_netns())
        return made[-1]

    yield make  # type: ignore[misc]
    for name in made:
        kill_all(name, signal.SIGTERM)
        if not wait_for(lambda name=name: not netns_pids(name), 10):
            kill_all(name, signal.SIGKILL)
            wait_for(lambda name=name: not netns_pids(name), 10)
        sh("ip", "netns", "del", name, check=False)


def links(ns: str) -> dict[str, dict[str, Any]]:
    return {e["ifname"]: e for e in json.loads(sh("ip", "-n", ns, "-j", "-d", "link", "show").stdout)}


def addrs(ns: str) -> dict[str, list[str]]:
    return {e["ifname"]: sorted(f"{a['local']}/{a['prefixlen']}" for a in e["addr_info"] if a["scope"] != "link")
            for e in json.loads(sh("ip", "-n", ns, "-j", "addr", "show").stdout)}


def routes(ns: str) -> list[tuple[str, str, str, Any]]:
    out = []
    for r in json.loads(sh("ip", "-n", ns, "-j", "route", "show", "table", "all").stdout):
        if r.get("type", "unicast") == "unicast" and r.get("table", "main") == "main" and r.get("protocol") != "kernel":
            out.append((r["dst"], r.get("gateway", ""), r["dev"], r.get("metric")))
    return sorted(out)


def directory(tmp_path: Any, ns: str, manifest: str, **settings: Any) -> str:
    (tmp_path / "net.yaml").write_text(manifest)
    config = {"host": f"netns:{ns}", "root": str(tmp_path / "root")}
    if settings:
        config["settings"] = {"interface": settings}
    (tmp_path / "converge.yaml").write_text(json.dumps(config))
    return str(tmp_path)


def apply(path: str) -> engine.Outcome:
    outcome = engine.reconcile(engine.open_target(path))
    assert outcome.report.ok, outcome.report.as_dict()
    return outcome


MANIFEST = """interfaces:
  v1: {type: veth, peer: v1p, state: up}
  v1p: {type: veth, peer: v1, state: up}
  v2: {type: veth, peer: v2p, state: up}
  br0:
    type: bridge
    ports: [v1, v2]
    addresses: [10.50.0.1/24, "fd50::1/64"]
    routes:
      - {to: 10.60.0.0/16, via: 10.50.0.254}
      - {to: "fd60::/48", via: "fd50::fe", metric: 10}
    gateway: 10.50.0.254
    mtu: 1400
    stp: off
    state: up
  mv0: {type: macvlan, parent: v1p, mode: bridge, addresses: [10.51.0.1/24], state: up}
  vx0: {type: vxlan, vni: 42, remote: 10.50.0.2, local: 10.50.0.1, dstport: 4789, parent: br0, mtu: 1350,
        addresses: [10.52.0.1/24], state: up}
"""


def test_apply_bridge_veth_macvlan_vxlan_then_nothing_to_do(netns: Any, tmp_path: Any) -> None:
    ns = netns()
    path = directory(tmp_path, ns, MANIFEST)
    first = apply(path)
    assert first.report.commands == 1  # the whole apply is one `ip -batch`
    got = links(ns)
    assert sorted(got) == ["br0", "lo", "mv0", "v1", "v1p", "v2", "v2p", "vx0"]
    assert got["v1"]["master"] == got["v2"]["master"] == "br0"
    assert got["br0"]["mtu"] == 1400 and got["vx0"]["mtu"] == 1350
    assert got["br0"]["linkinfo"]["info_data"]["stp_state"] == 0
    assert got["mv0"]["link"] == "v1p" and got["mv0"]["linkinfo"]["info_data"]["mode"] == "bridge"
    vx = got["vx0"]["linkinfo"]["info_data"]
    assert (vx["id"], vx["remote"], vx["local"], vx["port"], vx["link"]) == (42, "10.50.0.2", "10.50.0.1", 4789, "br0")
    assert all("UP" in got[n]["flags"] for n in ("br0", "mv0", "v1", "v1p", "v2", "vx0"))
    a = addrs(ns)
    assert (a["br0"], a["mv0"], a["vx0"]) == (["10.50.0.1/24", "fd50::1/64"], ["10.51.0.1/24"], ["10.52.0.1/24"])
    assert routes(ns) == [("10.60.0.0/16", "10.50.0.254", "br0", None), ("default", "10.50.0.254", "br0", None),
                          ("fd60::/48", "fd50::fe", "br0", 10)]
    assert os.path.isfile(tmp_path / "root/etc/systemd/network/converge-vx0.netdev")

    host = NetnsHost(ns, root=str(tmp_path / "root"))  # its apply lock under our root, not the machine's /run
    target = engine.open_target(path)
    target.host = host
    second = engine.reconcile(target)
    assert second.plan.empty and second.report.commands == 0
    # The interface kind reads with three bulk commands (other kinds read their own tools too), once:
    # an apply that runs nothing takes its own plan as the proof.
    assert [c[2:] for c in host.commands if c[2] == "ip"] == [
        ["ip", "-j", "-d", "link", "show"], ["ip", "-j", "addr", "show"], ["ip", "-j", "route", "show", "table", "all"]]


def test_change_mtu_addresses_and_remove_a_port(netns: Any, tmp_path: Any) -> None:
    ns = netns()
    path = directory(tmp_path, ns, MANIFEST)
    apply(path)
    (tmp_path / "net.yaml").write_text(MANIFEST.replace("ports: [v1, v2]", "ports: [v1]")
                                       .replace("mtu: 1400", "mtu: 1300")
                                       .replace('[10.50.0.1/24, "fd50::1/64"]', '[10.50.0.1/24, "fd50::2/64"]'))
    apply(path)
    got = links(ns)
    assert "master" not in got["v2"] and got["v1"]["master"] == "br0"
    assert got["br0"]["mtu"] == 1300
    assert addrs(ns)["br0"] == ["10.50.0.1/24", "fd50::2/64"]
    # the IPv6 route via fd50::fe still has a gateway on the link: it stays
    assert ("fd60::/48", "fd50::fe", "br0", 10) in routes(ns)
    assert engine.reconcile(engine.open_target(path)).report.commands == 0


def test_link_down_and_up_gets_its_routes_and_ipv6_back(netns: Any, tmp_path: Any) -> None:
    ns = netns()
    path = directory(tmp_path, ns, MANIFEST)
    apply(path)
    sh("ip", "-n", ns, "link", "set", "br0", "down")
    sh("ip", "-n", ns, "link", "set", "br0", "up")
    assert addrs(ns)["br0"] == ["10.50.0.1/24"] and routes(ns) == []  # what the kernel did
    apply(path)
    assert addrs(ns)["br0"] == ["10.50.0.1/24", "fd50::1/64"]
    assert len(routes(ns)) == 3


def test_traffic_flows_across_the_bridge(netns: Any, tmp_path: Any) -> None:
    ns, left, right = netns(), netns(), netns()
    for port, other, ip in (("p1", left, "10.70.0.2/24"), ("p2", right, "10.70.0.3/24")):
        sh("ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", other)
        sh("ip", "-n", other, "addr", "add", ip, "dev", "eth0")
        sh("ip", "-n", other, "link", "set", "eth0", "up")
    manifest = """interfaces:
  p1: {type: physical, state: up}
  p2: {type: physical, state: up}
  br0: {type: bridge, ports: [p1, p2], addresses: [10.70.0.1/24], stp: off, state: up}
"""
    apply(directory(tmp_path, ns, manifest))
    for src, dst in ((left, "10.70.0.3"), (right, "10.70.0.2"), (left, "10.70.0.1")):
        r = sh("ip", "netns", "exec", src, "busybox", "ping", "-c", "1", "-W", "2", dst, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
    # converge did not create p1/p2 (their peers are elsewhere): dropping them never deletes them
    (tmp_path / "net.yaml").write_text("interfaces: {}\n")
    apply(str(tmp_path))
    assert {"p1", "p2"} <= set(links(ns)) and "br0" not in links(ns)


def snapshot(ns: str) -> tuple[Any, Any, Any]:
    got = links(ns)
    keep = {n: (e["mtu"], e.get("master"), "UP" in e["flags"], e.get("linkinfo", {}).get("info_kind")) for n, e in got.items()}
    return keep, addrs(ns), routes(ns)


ROLLBACK_AFTER = 6  # seconds: long enough for an apply on a busy machine to be looked at before it


def test_unconfirmed_change_is_rolled_back_on_time(netns: Any, tmp_path: Any) -> None:
    ns = netns()
    path = directory(tmp_path, ns, MANIFEST)
    apply(path)
    before = snapshot(ns)
    path = directory(tmp_path, ns, MANIFEST.replace("mtu: 1400", "mtu: 1280").replace("ports: [v1, v2]", "ports: [v1]")
                     .replace("10.60.0.0/16", "10.61.0.0/16") + "  br9: {type: bridge, state: up}\n",
                     confirm_timeout=ROLLBACK_AFTER)
    started = time.monotonic()
    outcome = apply(path)  # its `ip -batch` succeeded: the change was made
    assert any(f"rolls back in {ROLLBACK_AFTER}s" in c.reason for c in outcome.plan.changes)
    checkpoint = tmp_path / "root" / netguard.CHECKPOINT.lstrip("/")
    rolled_back = tmp_path / "root" / netguard.ROLLED_BACK.lstrip("/")
    changed, has_br9, pending = snapshot(ns) != before, "br9" in links(ns), checkpoint.is_file()
    if time.monotonic() - started < ROLLBACK_AFTER:  # the watchdog's clock started after `started`
        assert changed and has_br9 and pending
    # the watchdog writes rolled-back last, after restoring links and files and removing the checkpoint
    assert wait_for(rolled_back.exists, 60), "the watchdog did not roll back within 60 s"
    assert time.monotonic() - started >= ROLLBACK_AFTER
    assert not checkpoint.exists()
    assert snapshot(ns) == before
    assert "br9" not in links(ns)
    # the persisted config is back too
    assert not (tmp_path / "root/etc/systemd/network/converge-br9.netdev").exists()
    assert wait_for(lambda: not netns_pids(ns), 30), "the watchdog did not exit after rolling back"


def test_confirmed_change_stays(netns: Any, tmp_path: Any) -> None:
    ns = netns()
    path = directory(tmp_path, ns, MANIFEST)
    apply(path)
    path = directory(tmp_path, ns, MANIFEST.replace("mtu: 1400", "mtu: 1280"), confirm_timeout=120)
    apply(path)
    assert netns_pids(ns), "no rollback watchdog runs in the namespace"
    assert guard.confirm(NetnsHost(ns, root=str(tmp_path / "root"))) is True
    # the watchdog finds no checkpoint and exits: nothing can roll back after that
    assert wait_for(lambda: not netns_pids(ns), 30), "the watchdog did not exit after the confirmation"
    assert links(ns)["br0"]["mtu"] == 1280
    assert not (tmp_path / "root" / netguard.ROLLED_BACK.lstrip("/")).exists()


@pytest.mark.parametrize("manifest", [
    "interfaces:\n  v0: {type: veth, peer: v0p, state: up}\n  v0.5: {type: vlan, parent: v0, vlan_id: 5}\n",
    "interfaces:\n  v0: {type: veth, peer: v0p}\n  bond0: {type: bond, mode: active-backup, members: [v0]}\n",
], ids=["vlan", "bond"])
def test_vlan_and_bond_where_the_kernel_has_them(netns: Any, tmp_path: Any, manifest: str) -> None:
    ns = netns()
    outcome = engine.reconcile(engine.open_target(directory(tmp_path, ns, manifest)))
    errors = " ".join(f.error for f in outcome.report.failed)
    if "Unknown device type" in errors:
        pytest.skip(f"this kernel has no {'vlan' if 'vlan' in manifest else 'bond'}: {errors.strip().splitlines()[0]}")
    assert outcome.report.ok, outcome.report.as_dict()
    got = links(ns)
    if "vlan" in manifest:
        assert got["v0.5"]["linkinfo"]["info_data"]["id"] == 5 and got["v0.5"]["link"] == "v0"
    else:
        assert got["v0"]["master"] == "bond0"
