"""The `ip` emulator of the simulated host: real `ip -j` shapes, `-batch`, refusals with
iproute2's messages, and the kernel's side effects (down drops routes and IPv6 addresses)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from converge.errors import CommandFailed
from converge.hosts import SimHost

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "ip")


@pytest.fixture
def host(tmp_path: Any) -> SimHost:
    return SimHost(str(tmp_path / "sim.json"), seed={"links": ["eth0", "eth1"]})


def ip(host: SimHost, *args: str, input: str | None = None, check: bool = True) -> Any:
    return host.run(["ip", *args], input=input, check=check)


def links(host: SimHost) -> dict[str, dict[str, Any]]:
    return {e["ifname"]: e for e in json.loads(ip(host, "-j", "-d", "link", "show").stdout)}


def recorded(name: str) -> list[dict[str, Any]]:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


def test_seeded_nics_and_the_recorded_key_layout(host: SimHost) -> None:
    got = links(host)
    assert sorted(got) == ["eth0", "eth1", "lo"]
    real = {e["ifname"]: e for e in recorded("netns-link.json")}
    ip(host, "-batch", "-", input="link add br0 type bridge\nlink add v1 type veth peer name v1p\n"
                                  "link set dev v1 master br0\nlink add mv0 link v1p type macvlan mode bridge\n"
                                  "link add vx0 type vxlan id 42 remote 10.50.0.2 local 10.50.0.1 dstport 4789 dev br0\n")
    got = links(host)
    for name in ("br0", "v1", "mv0", "vx0"):
        # every key the kind reads sits where iproute2 6.1 puts it
        for key in ("ifindex", "ifname", "flags", "mtu", "operstate", "link_type", "address"):
            assert key in got[name], (name, key)
        assert got[name]["linkinfo"]["info_kind"] == real[name]["linkinfo"]["info_kind"]
        assert list(got[name]).index("ifname") < list(got[name]).index("mtu")
    assert got["v1"]["master"] == real["v1"]["master"] == "br0"
    assert got["v1"]["link"] == "v1p" and got["mv0"]["link"] == "v1p"
    assert got["v1"]["linkinfo"]["info_slave_kind"] == real["v1"]["linkinfo"]["info_slave_kind"] == "bridge"
    for key in ("id", "remote", "local", "port", "link"):
        assert got["vx0"]["linkinfo"]["info_data"][key] == real["vx0"]["linkinfo"]["info_data"][key]
    assert got["mv0"]["linkinfo"]["info_data"]["mode"] == "bridge"


@pytest.mark.parametrize("line,message,rc", [
    ("link set dev nope master br0", 'Cannot find device "nope"', 1),
    ("link add v0 link nope type vlan id 5", 'Cannot find device "nope"', 1),
    ("link add mv9 link nope type macvlan", 'Cannot find device "nope"', 1),
    ("link add eth0 type bridge", "RTNETLINK answers: File exists", 2),
    ("link add d0 type dummy", "Error: Unknown device type.", 2),
    ("link del dev eth0", "RTNETLINK answers: Operation not supported", 2),
    ("link set dev eth0 mtu 67", "Error: mtu less than device minimum.", 2),
    ("route add 10.9.0.0/16 via 10.0.0.254 dev eth1", "Error: Nexthop device is not up.", 2),
    ("address del 10.0.0.9/24 dev eth0", "Error: ipv4: Address not found.", 2),
])
def test_refuses_what_iproute2_refuses(host: SimHost, line: str, message: str, rc: int) -> None:
    r = ip(host, *line.split(), check=False)
    assert (r.returncode, r.stderr.strip()) == (rc, message)


def test_batch_stops_at_the_first_error_and_names_the_line(host: SimHost) -> None:
    r = ip(host, "-batch", "-", input="link add br0 type bridge\n# a comment\nlink set dev nope master br0\n"
                                      "link add br1 type bridge\n", check=False)
    assert r.returncode == 1 and r.stderr == 'Cannot find device "nope"\nCommand failed -:3\n'
    assert "br0" in links(host) and "br1" not in links(host)  # like iproute2: no transaction


def test_routes_need_a_reachable_gateway_and_duplicate_addresses_fail(host: SimHost) -> None:
    ip(host, "link", "set", "dev", "eth0", "up")
    ip(host, "address", "add", "10.0.0.1/24", "dev", "eth0")
    r = ip(host, "address", "add", "10.0.0.1/24", "dev", "eth0", check=False)
    assert r.stderr.strip() == "Error: ipv4: Address already assigned."
    r = ip(host, "route", "add", "10.9.0.0/16", "via", "10.1.0.1", "dev", "eth0", check=False)
    assert r.stderr.strip() == "Error: Nexthop has invalid gateway."
    ip(host, "route", "add", "10.9.0.0/16", "via", "10.0.0.254", "dev", "eth0")
    with pytest.raises(CommandFailed, match="File exists"):
        ip(host, "route", "add", "10.9.0.0/16", "via", "10.0.0.254", "dev", "eth0")


def test_down_drops_routes_and_ipv6_addresses_but_keeps_ipv4(host: SimHost) -> None:
    ip(host, "-batch", "-", input="link set dev eth0 up\naddress add 10.0.0.1/24 dev eth0\n"
                                  "address add fd00::1/64 dev eth0\nroute add default via 10.0.0.254 dev eth0\n"
                                  "route add fd09::/64 via fd00::fe dev eth0\n")
    routes = json.loads(ip(host, "-j", "route", "show", "table", "all").stdout)
    assert {"dst": "default", "gateway": "10.0.0.254", "dev": "eth0", "flags": []} in routes
    assert {"dst": "fd09::/64", "gateway": "fd00::fe", "dev": "eth0", "metric": 1024, "flags": []} in routes
    ip(host, "link", "set", "dev", "eth0", "down")
    routes = json.loads(ip(host, "-j", "route", "show", "table", "all").stdout)
    assert [r for r in routes if r.get("dev") == "eth0"] == []
    addrs = {e["ifname"]: e for e in json.loads(ip(host, "-j", "addr", "show").stdout)}
    assert [a["local"] for a in addrs["eth0"]["addr_info"]] == ["10.0.0.1"]


def test_deleting_a_link_takes_its_peer_and_the_links_on_it(host: SimHost) -> None:
    ip(host, "-batch", "-", input="link add br0 type bridge\nlink add v0 type veth peer name v0p\n"
                                  "link set dev v0 master br0\nlink add mv0 link v0p type macvlan\n")
    ip(host, "link", "del", "dev", "v0")
    got = links(host)
    assert "v0p" not in got and "mv0" not in got and "br0" in got


def test_bond_takes_members_only_while_down(host: SimHost) -> None:
    ip(host, "link", "add", "bond0", "type", "bond", "mode", "802.3ad")
    ip(host, "link", "set", "dev", "eth0", "up")
    r = ip(host, "link", "set", "dev", "eth0", "master", "bond0", check=False)
    assert r.stderr.strip() == "Error: Device can not be enslaved while up."
    ip(host, "-batch", "-", input="link set dev eth0 down\nlink set dev eth0 master bond0\n")
    assert links(host)["eth0"]["master"] == "bond0"
    assert links(host)["bond0"]["linkinfo"]["info_data"]["mode"] == "802.3ad"


def test_state_persists_in_the_facts_file(host: SimHost, tmp_path: Any) -> None:
    ip(host, "link", "add", "br0", "type", "bridge")
    host.flush()
    again = SimHost(str(tmp_path / "sim.json"))
    assert again.facts.sim["ip_links"]["br0"]["kind"] == "bridge"
    assert "br0" in links(again) and "eth0" in links(again)


def test_setsid_records_the_watchdog_without_running_it(host: SimHost) -> None:
    host.run(["setsid", "-f", "python3", "-m", "converge.resources.network.netguard", "watch", "/run/x", "5", "/"])
    assert host.facts.sim["net_guard"] == [["-f", "python3", "-m", "converge.resources.network.netguard", "watch", "/run/x", "5", "/"]]
