"""Kind `interface`: parsing of recorded `ip -j` output, exact iproute2 batch lines for each
change, validation of bad input, and read -> steps -> run -> read on the simulated host."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import pytest

from converge.errors import ManifestError, PlanError
from converge.hosts.base import Result
from converge.model import Action, Facts, FieldDiff, Observed
from converge.resources.base import Context
from converge.resources.network.interface import InterfaceKind, InterfaceSpec

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "ip")
KIND = InterfaceKind()


class RecordedHost:
    """A host that answers the three read commands with recorded `ip -j` output."""

    name = "recorded"

    def __init__(self, prefix: str) -> None:
        self.outputs = {}
        for what, argv in (("link", "ip -j -d link show"), ("addr", "ip -j addr show"),
                           ("route", "ip -j route show table all")):
            with open(os.path.join(FIXTURES, f"{prefix}-{what}.json"), encoding="utf-8") as f:
                self.outputs[argv] = f.read()
        self.commands: list[list[str]] = []

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        self.commands.append(list(argv))
        return Result(0, self.outputs[" ".join(argv)], "")

    def read_file(self, path: str) -> str | None:
        return None

    def path(self, p: str) -> str:
        return p


def ctx_for(host: Any, desired: dict[str, Any] | None = None, facts: dict[str, Observed] | None = None,
            **settings: Any) -> Context:
    ctx = Context(host=host, desired={"interface": desired or {}}, settings={"interface": settings})
    if facts is not None:
        ctx.facts = Facts(resources={"interface": facts})
    return ctx


def spec(**kw: Any) -> InterfaceSpec:
    return InterfaceSpec.model_validate(kw)


def batch(steps: list[Any]) -> list[str]:
    runs = [s for s in steps if s.op == "run"]
    assert [s.argv for s in runs] == [["ip", "-batch", "-"]]
    return runs[0].input.splitlines()


# -- read: recorded output ---------------------------------------------------------------------
def test_read_recorded_netns_output_bridge_veth_macvlan_vxlan() -> None:
    host = RecordedHost("netns")
    got = KIND.read(ctx_for(host))
    assert len(host.commands) == 3  # bulk: three commands whatever the number of links
    assert "lo" not in got
    br0 = got["br0"].spec
    assert {k: br0[k] for k in ("type", "ports", "stp", "addresses", "gateway", "routes", "mtu", "state")} == {
        "type": "bridge", "ports": ["v1", "v2"], "stp": False, "addresses": ["10.50.0.1/24", "fd50::1/64"],
        "gateway": "10.50.0.254", "mtu": 1400, "state": "up",
        "routes": [{"to": "10.60.0.0/16", "via": "10.50.0.254"}, {"to": "fd60::/48", "via": "fd50::fe", "metric": 10}]}
    assert got["v1"].spec["peer"] == "v1p" and got["v1p"].spec["peer"] == "v1"
    assert got["v1"].info["master"] == "br0"
    assert {k: got["mv0"].spec[k] for k in ("type", "parent", "mode", "addresses")} == {
        "type": "macvlan", "parent": "v1p", "mode": "bridge", "addresses": ["10.51.0.1/24"]}
    assert {k: got["vx0"].spec[k] for k in ("type", "vni", "remote", "local", "dstport", "parent", "mtu")} == {
        "type": "vxlan", "vni": 42, "remote": "10.50.0.2", "local": "10.50.0.1", "dstport": 4789, "parent": "br0",
        "mtu": 1350}
    assert got["v2p"].spec["state"] == "down"


def test_read_recorded_vlan_and_bond_output() -> None:
    got = KIND.read(ctx_for(RecordedHost("vlan-bond")))
    bond = got["bond0"].spec
    assert {k: bond[k] for k in ("type", "members", "mode", "addresses", "gateway", "mtu")} == {
        "type": "bond", "members": ["eth0", "eth1"], "mode": "802.3ad", "addresses": ["192.168.10.5/24"],
        "gateway": "192.168.10.1", "mtu": 9000}
    vlan = got["bond0.100"].spec
    # the DHCP lease (dynamic), the RA default route, the DHCP default route and the kernel's
    # routes belong to daemons and the kernel: not read as declared config
    assert {k: vlan.get(k) for k in ("type", "parent", "vlan_id", "addresses", "routes", "gateway")} == {
        "type": "vlan", "parent": "bond0", "vlan_id": 100, "addresses": ["10.100.0.5/24", "2001:db8:100::5/64"],
        "routes": [{"to": "172.16.0.0/12", "via": "10.100.0.254", "metric": 20},
                   {"to": "2001:db8:200::/48", "via": "2001:db8:100::1"}], "gateway": None}
    assert got["eth0"].spec["type"] == "physical" and got["eth0"].info["master"] == "bond0"


def test_read_spec_is_the_specs_normal_form() -> None:
    for name, obs in KIND.read(ctx_for(RecordedHost("netns"))).items():
        assert InterfaceSpec.model_validate(obs.spec).model_dump(mode="json", exclude_none=True) == obs.spec, name


def test_read_marks_ownership_from_the_state_file() -> None:
    ctx = ctx_for(RecordedHost("netns"))
    ctx.state = {"managed": {"interface/br0": "created", "interface/v2p": True}}
    got = KIND.read(ctx)
    assert (got["br0"].managed, got["br0"].info["created"]) == (True, True)
    assert (got["v2p"].managed, got["v2p"].info["created"]) == (True, False)
    assert got["mv0"].managed is False


# -- exact batch lines ---------------------------------------------------------------------------
PHYS = {"eth0": Observed(spec={"type": "physical", "state": "up", "mtu": 1500}),
        "eth1": Observed(spec={"type": "physical", "state": "up", "mtu": 1500})}


def test_create_bridge_lines_in_order() -> None:
    s = spec(type="bridge", ports=["eth1", "eth0"], stp=True, addresses=["192.168.1.10/24", "fd00::10/64"],
             gateway="192.168.1.1", routes=[{"to": "10.9.0.0/16", "via": "192.168.1.254", "metric": 5}],
             mtu=9000, state="up")
    steps = KIND.create("br0", s, ctx_for(None, {"br0": s}, dict(PHYS)))
    assert batch(steps) == [
        "link add br0 type bridge stp_state 1",
        "link set dev br0 mtu 9000",
        "link set dev eth0 master br0", "link set dev eth0 up",
        "link set dev eth1 master br0", "link set dev eth1 up",
        "link set dev br0 up",
        "address replace 192.168.1.10/24 dev br0",
        "address replace fd00::10/64 dev br0",
        "route replace 10.9.0.0/16 via 192.168.1.254 dev br0 metric 5",
        "route replace default via 192.168.1.1 dev br0",
    ]
    assert steps[-1].op == "state" and steps[-1].state == {"managed.interface/br0": "created"}


@pytest.mark.parametrize("name,kw,line", [
    ("v0", dict(type="veth", peer="v0p"), "link add v0 type veth peer name v0p"),
    ("mv0", dict(type="macvlan", parent="eth0", mode="bridge"), "link add mv0 link eth0 type macvlan mode bridge"),
    ("eth0.100", dict(type="vlan", parent="eth0", vlan_id=100), "link add eth0.100 link eth0 type vlan id 100"),
    ("vx0", dict(type="vxlan", vni=42, remote="10.0.0.2", local="10.0.0.1", dstport=4789, parent="eth0"),
     "link add vx0 type vxlan id 42 remote 10.0.0.2 local 10.0.0.1 dstport 4789 dev eth0"),
    ("vx1", dict(type="vxlan", vni=7, group="239.1.1.1", parent="eth0"),
     "link add vx1 type vxlan id 7 group 239.1.1.1 dev eth0"),
])
def test_create_line_per_kind(name: str, kw: dict[str, Any], line: str) -> None:
    s = spec(**kw)
    assert batch(KIND.create(name, s, ctx_for(None, {name: s}, dict(PHYS)))) == [line]


def test_create_bond_takes_members_down_first() -> None:
    s = spec(type="bond", mode="802.3ad", members=["eth0", "eth1"], state="up")
    assert batch(KIND.create("bond0", s, ctx_for(None, {"bond0": s}, dict(PHYS)))) == [
        "link add bond0 type bond mode 802.3ad",
        "link set dev eth0 down", "link set dev eth0 master bond0", "link set dev eth0 up",
        "link set dev eth1 down", "link set dev eth1 master bond0", "link set dev eth1 up",
        "link set dev bond0 up"]


def test_create_refuses_a_missing_parent_and_a_physical_link() -> None:
    s = spec(type="vlan", parent="eth9", vlan_id=5)
    with pytest.raises(PlanError, match="eth9 is neither declared nor present"):
        KIND.create("eth9.5", s, ctx_for(None, {"eth9.5": s}, dict(PHYS)))
    with pytest.raises(PlanError, match="never creates a physical"):
        KIND.create("eth7", spec(type="physical"), ctx_for(None, {}, dict(PHYS)))


def diffs(**fields: tuple[Any, Any]) -> list[FieldDiff]:
    return [FieldDiff(path=k, before=b, after=a) for k, (b, a) in fields.items()]


def test_update_only_what_differs() -> None:
    before = {"type": "bridge", "ports": ["eth0", "eth1"], "addresses": ["10.0.0.1/24", "10.0.1.1/24"],
              "mtu": 1500, "state": "up", "routes": [{"to": "10.9.0.0/16", "via": "10.0.0.254"}]}
    s = spec(type="bridge", ports=["eth0"], addresses=["10.0.0.1/24", "10.0.2.1/24"], mtu=9000, state="up",
             routes=[{"to": "10.8.0.0/16", "via": "10.0.0.254"}])
    obs = Observed(spec=before, managed=True, info={"created": True})
    ctx = ctx_for(None, {"br0": s}, dict(PHYS, br0=obs))
    steps = KIND.update("br0", s, obs, diffs(mtu=(1500, 9000), ports=(0, 0), addresses=(0, 0), routes=(0, 0)), ctx)
    assert batch(steps) == [
        "link set dev br0 mtu 9000",
        "link set dev eth1 nomaster",
        "route del 10.9.0.0/16 via 10.0.0.254 dev br0",  # before the addresses: the kernel drops it with them
        "address del 10.0.1.1/24 dev br0",
        "address replace 10.0.2.1/24 dev br0",
        "route replace 10.8.0.0/16 via 10.0.0.254 dev br0",
    ]
    assert all(s.op != "state" for s in steps)  # already managed


def test_update_coming_up_reapplies_routes_and_ipv6() -> None:
    # read while down: the kernel had dropped the routes and the IPv6 address
    before = {"type": "physical", "addresses": ["10.0.0.1/24"], "state": "down", "routes": []}
    s = spec(addresses=["10.0.0.1/24", "fd00::1/64"], routes=[{"to": "10.9.0.0/16", "via": "10.0.0.254"}],
             gateway="10.0.0.254", state="up")
    obs = Observed(spec=before)
    steps = KIND.update("eth0", s, obs, diffs(state=("down", "up"), addresses=(0, 0), routes=(0, 0),
                                              gateway=(None, "10.0.0.254")), ctx_for(None, {"eth0": s}, dict(PHYS)))
    assert batch(steps) == [
        "link set dev eth0 up",
        "address replace fd00::1/64 dev eth0",
        "route replace 10.9.0.0/16 via 10.0.0.254 dev eth0",
        "route replace default via 10.0.0.254 dev eth0",
    ]
    assert steps[-1].state == {"managed.interface/eth0": True}  # adopted: configured, never deleted


def test_delete_only_what_converge_created() -> None:
    made = Observed(spec={"type": "bridge", "ports": ["eth0"]}, managed=True, info={"created": True})
    adopted = Observed(spec={"type": "bridge"}, managed=True, info={"created": False})
    nic = Observed(spec={"type": "physical"}, managed=True, info={"created": False})
    ctx = ctx_for(None, {}, dict(PHYS, br0=made, br1=adopted, eth5=nic))
    assert batch(KIND.delete("br0", made, ctx)) == ["link del dev br0"]
    for name, obs in (("br1", adopted), ("eth5", nic)):
        steps = KIND.delete(name, obs, ctx)
        assert [s.op for s in steps] == ["state"] and steps[0].state == {f"managed.interface/{name}": None}
    assert KIND.destroys("br0", made, ctx) == ["interface/eth0 leaves the bridge/bond"]


def test_replace_refuses_a_link_converge_did_not_create() -> None:
    obs = Observed(spec={"type": "macvlan", "parent": "eth0"}, managed=True, info={"created": False})
    with pytest.raises(PlanError, match="parent cannot change"):
        KIND.replace("mv0", spec(type="macvlan", parent="eth1"), obs, ctx_for(None, {}, dict(PHYS)))


# -- bad input -----------------------------------------------------------------------------------
def write_manifest(tmp_path: Any, text: str) -> str:
    (tmp_path / "net.yaml").write_text(text)
    (tmp_path / "converge.yaml").write_text(f"host: sim:{tmp_path}/sim.json\nsim:\n  links: [eth0, eth1, eth2]\n")
    return str(tmp_path)


@pytest.mark.parametrize("body,path,message", [
    ("br0: {type: bridge, ports: [eth0]}\n  br1: {type: bridge, ports: [eth0]}", "interfaces.br1.ports",
     "already a port/member of br0"),
    ("eth0: {addresses: [10.0.0.1/24]}\n  eth1: {addresses: [10.0.0.2/16]}", "interfaces.eth1.addresses", "overlaps"),
    ("eth0: {addresses: [10.0.0.1/33]}", "interfaces.eth0.addresses", "not an address in CIDR form"),
    ("eth0: {addresses: [10.0.0.1]}", "interfaces.eth0.addresses", "not an address in CIDR form"),
    ("v: {type: vlan, parent: eth0, vlan_id: 4095}", "interfaces.v.vlan_id", "less than or equal to 4094"),
    ("eth0: {mtu: 67}", "interfaces.eth0.mtu", "greater than or equal to 68"),
    ("eth0: {mtu: 65536}", "interfaces.eth0.mtu", "less than or equal to 65535"),
    ("eth0: {addresses: [10.0.0.1/24], gateway: 10.1.0.1}", "interfaces.eth0.gateway", "outside every address"),
    ("v: {type: vlan, parent: eth9, vlan_id: 5}", "interfaces.v.parent", "not declared nor present"),
    ("eth0: {state: down, routes: [{to: 10.9.0.0/16}]}", "interfaces.eth0.state", "keeps no routes"),
    ("m: {type: macvlan, parent: eth0, mode: 802.3ad}", "interfaces.m.mode", "not a macvlan mode"),
])
def test_bad_input_is_a_located_error_and_nothing_runs(tmp_path: Any, body: str, path: str, message: str) -> None:
    from converge import engine

    target = engine.open_target(write_manifest(tmp_path, "interfaces:\n  " + body + "\n"))
    with pytest.raises(ManifestError) as e:
        engine.reconcile(target)
    assert any(i.path == path and message in i.message for i in e.value.issues), str(e.value)
    assert not any(c[0] == "ip" and "-batch" in c for c in target.host.commands)


# -- the simulated host: apply, then read equals declared ------------------------------------------
HOMELAB = """interfaces:
  eth0: {type: physical, state: up, mtu: 9000}
  bond0: {type: bond, mode: active-backup, members: [eth1, eth2], state: up}
  bond0.20: {type: vlan, parent: bond0, vlan_id: 20, addresses: [10.20.0.2/24, "fd20::2/64"],
             routes: [{to: 10.99.0.0/16, via: 10.20.0.1}], state: up}
  br0: {type: bridge, ports: [eth0, v0], addresses: [192.168.1.10/24], gateway: 192.168.1.1, stp: on, state: up}
  v0: {type: veth, peer: v0p, state: up}
  mv0: {type: macvlan, parent: eth0, mode: bridge, mac: "02:00:00:00:00:aa", state: up}
  vx0: {type: vxlan, vni: 100, remote: 192.168.1.20, dstport: 4789, parent: br0, mtu: 8950, state: up}
"""


def test_apply_on_the_sim_host_converges_and_second_apply_runs_nothing(tmp_path: Any) -> None:
    from converge import engine

    target = engine.open_target(write_manifest(tmp_path, HOMELAB))
    outcome = engine.reconcile(target)  # raises NotConverged when a re-plan is not empty
    assert outcome.report.ok and outcome.report.commands == 3  # one ip batch for the whole apply, enable+start networkd
    assert sorted(json.loads((tmp_path / "sim.json").read_text())["files"]) == sorted(
        [f"/etc/systemd/network/converge-{n}" for n in (
            "bond0.netdev", "bond0.network", "bond0.20.netdev", "bond0.20.network", "br0.netdev", "br0.network",
            "eth0.network", "eth1.network", "eth2.network", "mv0.netdev", "mv0.network", "v0.netdev", "v0.network",
            "vx0.netdev", "vx0.network")] + ["/var/lib/converge/state.json", "/var/lib/converge/state.json.bak"])
    again = engine.open_target(str(tmp_path))
    plan, _ = engine.plan(again)
    assert plan.empty


def test_removing_a_port_and_changing_addresses_on_the_sim(tmp_path: Any) -> None:
    from converge import engine

    engine.reconcile(engine.open_target(write_manifest(tmp_path, HOMELAB)))
    (tmp_path / "net.yaml").write_text(HOMELAB.replace("ports: [eth0, v0]", "ports: [eth0]")
                                       .replace("192.168.1.10/24", "192.168.1.11/24")
                                       .replace("  v0: {type: veth, peer: v0p, state: up}\n", ""))
    target = engine.open_target(str(tmp_path))
    plan, _ = engine.plan(target)
    assert {(str(c.ref), c.action) for c in plan.changes} == {
        ("interface/br0", Action.UPDATE), ("interface/v0", Action.DELETE), ("batch/interfaces", Action.UPDATE)}
    [batch] = [c for c in plan.changes if c.ref.kind == "batch"]  # the one batch, a change of its own
    assert [str(c.ref) for c in plan.changes] == ["batch/interfaces", "interface/br0", "interface/v0"]
    assert all(batch.ref in c.depends_on for c in plan.changes if c is not batch)
    lines = next(s.input for s in batch.steps if s.input).splitlines()
    assert lines == ["link del dev v0", "address del 192.168.1.10/24 dev br0",
                     "address replace 192.168.1.11/24 dev br0"]
    engine.reconcile(target)
    assert not any(n in ("v0", "v0p") for n in json.loads((tmp_path / "sim.json").read_text())
                   ["sim"]["ip_links"])


# -- property: apply, then plan is empty (and any manifest can follow any other) -----------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NICS = ["eth0", "eth1", "eth2", "eth3"]


@st.composite
def manifests(draw: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    free = list(NICS)  # links nobody has taken as a port/member yet
    net = iter(range(1, 200))

    def l3(entry: dict[str, Any]) -> dict[str, Any]:
        i = next(net)
        if draw(st.booleans()):
            entry["addresses"] = [f"10.{i}.0.1/24"] + ([f"fd{i:x}::1/64"] if draw(st.booleans()) else [])
            entry["state"] = "up"
            if draw(st.booleans()):
                entry["routes"] = [{"to": f"172.{16 + i % 16}.{i}.0/24", "via": f"10.{i}.0.254",
                                    **({"metric": draw(st.integers(1, 50))} if draw(st.booleans()) else {})}]
            if draw(st.booleans()) and not any("gateway" in e for e in out.values()):
                entry["gateway"] = f"10.{i}.0.254"
        else:
            entry["state"] = draw(st.sampled_from(["up", "down"]))
        if draw(st.booleans()):
            entry["mtu"] = draw(st.sampled_from([1280, 1400, 1500, 9000]))
        return entry

    for n in range(draw(st.integers(0, 2))):
        out[f"ve{n}"] = l3({"type": "veth", "peer": f"ve{n}p"})
        free.append(f"ve{n}")
    for n in range(draw(st.integers(0, 2))):
        ports = draw(st.lists(st.sampled_from(free), unique=True, max_size=2)) if free else []
        free = [p for p in free if p not in ports]
        out[f"br{n}"] = l3({"type": "bridge", "ports": ports, "stp": draw(st.booleans())})
    if free and draw(st.booleans()):
        members = draw(st.lists(st.sampled_from(free), unique=True, min_size=1, max_size=2))
        free = [p for p in free if p not in members]
        out["bond0"] = l3({"type": "bond", "members": members, "mode": draw(st.sampled_from(["active-backup", "802.3ad"]))})
    if free and draw(st.booleans()):
        parent = draw(st.sampled_from(free))
        out["mv0"] = l3({"type": "macvlan", "parent": parent, "mode": draw(st.sampled_from(["bridge", "private"]))})
        out[f"{parent}.7"] = l3({"type": "vlan", "parent": parent, "vlan_id": draw(st.integers(1, 4094))})
    if draw(st.booleans()):
        out["vx0"] = l3({"type": "vxlan", "vni": draw(st.integers(0, 1000)), "dstport": 4789})
    for nic in (f for f in free if f in NICS):
        if draw(st.booleans()):
            out[nic] = l3({"type": "physical"})
    for name, entry in out.items():  # a port carries no addresses of its own
        if any(name in e.get("ports", []) + e.get("members", []) for e in out.values()):
            for key in ("addresses", "routes", "gateway"):
                entry.pop(key, None)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=manifests(), second=manifests())
def test_property_apply_then_plan_is_empty(first: dict[str, Any], second: dict[str, Any]) -> None:
    import tempfile

    from converge import engine

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "converge.yaml"), "w") as f:
            json.dump({"host": f"sim:{d}/sim.json", "sim": {"links": NICS}}, f)
        for manifest in (first, second):
            with open(os.path.join(d, "net.yaml"), "w") as f:
                json.dump({"interfaces": manifest}, f)
            outcome = engine.reconcile(engine.open_target(d))  # NotConverged if a re-plan is not empty
            assert outcome.report.ok, outcome.report.as_dict()
            plan, _ = engine.plan(engine.open_target(d))
            assert plan.empty
