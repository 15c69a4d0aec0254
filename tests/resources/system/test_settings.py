"""Kind `system`: settings files on the simulated host, tz database checks, resolv.conf edits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from converge import engine
from converge.errors import ManifestError
from converge.manifest import load
from converge.resources.system.settings import Dns, parse_resolv, render_resolv

SETTINGS = """\
system:
  hostname: nas
  timezone: Europe/Berlin
  dns: {nameservers: [192.168.1.1, 1.1.1.1], search: [lan]}
  ntp: {servers: [0.debian.pool.ntp.org, 1.debian.pool.ntp.org]}
  sysctl: {net.ipv4.ip_forward: 1, vm/swappiness: 10}
"""


def directory(tmp_path: Any, text: str) -> str:
    (tmp_path / "system.yaml").write_text(text)
    (tmp_path / "converge.yaml").write_text(f"host: sim:{tmp_path}/sim.json\n")
    return str(tmp_path)


def test_settings_are_written_to_their_files_and_a_second_plan_is_empty(tmp_path: Any) -> None:
    target = engine.open_target(directory(tmp_path, SETTINGS))
    outcome = engine.reconcile(target)  # raises NotConverged when the re-plan is not empty
    assert outcome.report.ok
    state = json.loads((tmp_path / "sim.json").read_text())
    files = state["files"]
    assert files["/etc/hostname"] == "nas\n"
    assert state["sim"]["symlinks"]["/etc/localtime"] == "/usr/share/zoneinfo/Europe/Berlin"
    assert "search lan\nnameserver 192.168.1.1\nnameserver 1.1.1.1\n" in files["/etc/resolv.conf"]
    assert files["/etc/systemd/timesyncd.conf.d/converge.conf"].endswith(
        "[Time]\nNTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org\n")
    assert files["/etc/sysctl.d/90-converge.conf"].endswith("net.ipv4.ip_forward = 1\nvm.swappiness = 10\n")
    assert state["sim"]["sysctl"] == {"net.ipv4.ip_forward": "1", "vm.swappiness": "10"}  # sysctl -p ran
    assert engine.plan(engine.open_target(str(tmp_path)))[0].empty


def test_a_changed_timezone_is_one_update_of_the_link(tmp_path: Any) -> None:
    engine.reconcile(engine.open_target(directory(tmp_path, SETTINGS)))
    directory(tmp_path, SETTINGS.replace("Europe/Berlin", "UTC"))
    plan, _ = engine.plan(engine.open_target(str(tmp_path)))
    [change] = plan.changes
    assert [d.path for d in change.diffs] == ["timezone"]
    assert [s.argv for s in change.steps] == [["ln", "-sfn", "/usr/share/zoneinfo/UTC", "/etc/localtime"],
                                              ["timedatectl", "set-timezone", "UTC"]]


def test_without_a_running_systemd_only_files_are_written(tmp_path: Any) -> None:
    (tmp_path / "system.yaml").write_text(SETTINGS)
    (tmp_path / "converge.yaml").write_text(f"host: sim:{tmp_path}/sim.json\nsim:\n  systemd: {{running: false}}\n")
    plan, _ = engine.plan(engine.open_target(str(tmp_path)))
    [change] = plan.changes
    assert {s.op for s in change.steps} == {"write", "run"}
    assert [s.argv[0] for s in change.steps if s.op == "run"] == ["ln"]  # no hostnamectl, timedatectl, sysctl


@pytest.mark.parametrize("text,where,message", [
    ("system:\n  timezone: Europe/Berlín\n", "system.timezone", "not a time zone of the tz database"),
    ("system:\n  hostname: -nas\n", "system.hostname", "not a host name"),
    ("system:\n  sysctl: {'net ipv4': 1}\n", "system.sysctl", "not a sysctl key"),
    ("system:\n  dns: {nameservers: [1.1.1.300]}\n", "system.dns.nameservers.0", "1.1.1.300"),
    ("system:\n  host: {hostname: nas}\n", "system.host", "unknown key 'host'"),
])
def test_bad_settings_are_located_and_explained(tmp_path: Any, text: str, where: str, message: str) -> None:
    (tmp_path / "system.yaml").write_text(text)
    with pytest.raises(ManifestError) as e:
        load(str(tmp_path))
    shown = str(e.value)
    assert "system.yaml:2:" in shown and where in shown and message in shown, shown


def test_resolv_conf_keeps_lines_converge_does_not_manage() -> None:
    old = "# from dhcp\noptions edns0 trust-ad\nnameserver 10.0.0.1\nsearch old.lan\n"
    new = render_resolv(old, Dns(nameservers=["192.168.1.1"], search=["lan"]))
    assert "options edns0 trust-ad" in new and "10.0.0.1" not in new and "old.lan" not in new
    assert parse_resolv(new) == {"nameservers": ["192.168.1.1"], "search": ["lan"]}
    assert render_resolv(new, Dns(nameservers=["192.168.1.1"], search=["lan"])) == new  # stable
