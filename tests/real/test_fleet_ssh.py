"""The fleet against real OpenSSH: three network namespaces, each running its own sshd (a temp
config, host key and authorized_keys) on a veth address, reached from a client namespace with a
temp key and a temp known_hosts. Each host has its own --root and manages an interface inside its
namespace through converge (sshd runs there, so the `ip` commands it runs act there). Checked with
`ip -n NS -j addr` and the files under each root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from isolation import note_leftovers, stop_group, unique_name, wait_for
from sshd_ns import Fleet, sh, start_fleet, start_sshd

pytestmark = pytest.mark.real

MANIFEST = """interfaces:
{%- for i in range(bridges) %}
  {{ "brf%d" % i }}: {type: bridge, addresses: ["10.{{ 80 + i }}.{{ index }}.1/24"], state: up}
{%- endfor %}
system: {hostname: "{{ label }}"}
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    note_leftovers("network namespace", [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines()
                                         if line.strip()], "ip netns del NAME")
    try:
        made = start_fleet(tmp_path, 3)
    except RuntimeError as e:
        pytest.fail(f"cannot start the SSH hosts: {e}")
    yield made
    made.cleanup()


def inventory(fleet: Fleet, bridges: int = 1, label: str = "h", known_hosts: Path | None = None) -> str:
    """converge.yaml of the three hosts, and the shared template every host renders with its vars."""
    directory = fleet.base / "manifests"
    (directory / "common").mkdir(parents=True, exist_ok=True)
    (directory / "common" / "net.yaml.j2").write_text(MANIFEST)
    hosts = {h.name: {"address": f"ssh://root@{h.address}", "root": str(fleet.base / "roots" / h.name),
                      "vars": {"index": i, "label": f"{label}{i}"}} for i, h in enumerate(fleet.hosts)}
    config = {"host_defaults": {"manifests": ["common"], "identity_file": str(fleet.client_key),
                                "known_hosts": str(known_hosts or fleet.known_hosts), "vars": {"bridges": bridges}},
              "hosts": hosts}
    (directory / "converge.yaml").write_text(json.dumps(config))
    return str(directory)


def converge(fleet: Fleet, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The converge CLI, run in the client namespace."""
    return subprocess.run(fleet.in_client(sys.executable, "-m", "converge.cli", *args), capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def addresses(ns: str) -> dict[str, list[str]]:
    return {e["ifname"]: sorted(f"{a['local']}/{a['prefixlen']}" for a in e["addr_info"] if a["scope"] != "link")
            for e in json.loads(sh("ip", "-n", ns, "-j", "addr", "show").stdout)}


def test_apply_all_converges_three_hosts_then_each_has_no_changes(fleet: Fleet) -> None:
    path = inventory(fleet)
    first = converge(fleet, "apply", path, "--all", "--forks", "3")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 hosts: 3 ok, 0 failed, 3 with changes" in first.stdout
    for i, host in enumerate(fleet.hosts):
        assert addresses(host.netns)["brf0"] == [f"10.80.{i}.1/24"]
        root = fleet.base / "roots" / host.name
        assert (root / "etc" / "hostname").read_text() == f"h{i}\n"
        assert f"Address=10.80.{i}.1/24" in (root / "etc/systemd/network/converge-brf0.network").read_text()
    again = converge(fleet, "plan", path, "--all", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("no changes") == 3


def test_fleet_apply_runs_hosts_in_parallel(fleet: Fleet) -> None:
    """Three hosts with --forks 3 take less than twice the slowest host alone."""
    path = inventory(fleet, label="single")
    singles = []
    for host in fleet.hosts:
        started = time.monotonic()
        alone = converge(fleet, "apply", path, "--limit", host.name)
        singles.append(time.monotonic() - started)
        assert alone.returncode == 0, alone.stdout + alone.stderr
    path = inventory(fleet, label="fleet")  # the same work again on each host: a new hostname, new files
    started = time.monotonic()
    together = converge(fleet, "apply", path, "--all", "--forks", "3")
    elapsed = time.monotonic() - started
    assert together.returncode == 0, together.stdout + together.stderr
    assert "3 hosts: 3 ok, 0 failed, 3 with changes" in together.stdout
    assert elapsed < 2 * max(singles), (elapsed, singles)


def test_a_host_whose_sshd_is_stopped_fails_alone(fleet: Fleet) -> None:
    down = fleet.hosts[1]
    down.stop()  # by its exact process group
    result = converge(fleet, "apply", inventory(fleet), "--all")
    assert result.returncode == 1
    assert f"cannot reach ssh://root@{down.address}" in result.stdout + result.stderr
    assert "Connection refused" in result.stdout + result.stderr
    assert "3 hosts: 2 ok, 1 failed" in result.stdout
    for i in (0, 2):
        assert addresses(fleet.hosts[i].netns)["brf0"] == [f"10.80.{i}.1/24"]
    assert "brf0" not in addresses(down.netns)
    start_sshd(down)  # back: the next run converges it too
    assert converge(fleet, "apply", inventory(fleet), "--all").returncode == 0


def test_an_unknown_host_key_is_refused_with_instructions(fleet: Fleet) -> None:
    partial = fleet.base / "partial_known_hosts"
    partial.write_text(fleet.hosts[0].known_hosts_line())
    host = fleet.hosts[2]
    result = converge(fleet, "apply", inventory(fleet, known_hosts=partial), "--limit", f"{fleet.hosts[0].name},{host.name}")
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"ssh://root@{host.address}: its host key is not in {partial}" in out
    assert f"ssh-keyscan -p 22 {host.address} >> {partial}" in out
    assert "brf0" not in addresses(host.netns) and not (fleet.base / "roots" / host.name).exists()
    assert "brf0" in addresses(fleet.hosts[0].netns)  # the known host went on


def test_a_changed_host_key_is_refused(fleet: Fleet) -> None:
    other = fleet.base / "other_key"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other))
    host = fleet.hosts[0]
    forged = fleet.base / "forged_known_hosts"
    forged.write_text(f"{host.address} {other.with_suffix('.pub').read_text().strip()}\n")
    result = converge(fleet, "plan", inventory(fleet, known_hosts=forged), "--limit", host.name)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert "the host key differs from the one recorded in" in out and "ssh-keygen -R" in out


def test_a_no_op_plan_needs_as_many_round_trips_for_many_resources_as_for_few(fleet: Fleet) -> None:
    """Every ssh process the CLI starts is counted by a wrapper first on PATH."""
    wrapper = fleet.base / "counting-bin"
    wrapper.mkdir()
    counter = fleet.base / f"{unique_name()}.count"
    (wrapper / "ssh").write_text(f"#!/bin/sh\necho x >> {counter}\nexec /usr/bin/ssh \"$@\"\n")
    (wrapper / "ssh").chmod(0o755)
    env = {"PATH": f"{wrapper}:{os.environ.get('PATH', '')}"}
    counts = {}
    for bridges in (1, 40):
        path = inventory(fleet, bridges=bridges)
        applied = converge(fleet, "apply", path, "--limit", "host0")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert len([n for n in addresses(fleet.hosts[0].netns) if n.startswith("brf")]) == bridges
        counter.write_text("")
        plan = converge(fleet, "plan", path, "--limit", "host0", "--detailed-exitcode", env=env)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        counts[bridges] = len(counter.read_text().split())
    assert counts[1] == counts[40], counts
    assert counts[1] <= 16, counts


def test_connection_test_of_the_api(fleet: Fleet) -> None:
    """POST /api/v1/hosts/NAME/test's answer, made in the client namespace against the real sshd."""
    partial = fleet.base / "partial_known_hosts"
    partial.write_text(fleet.hosts[0].known_hosts_line())
    path = inventory(fleet, known_hosts=partial)
    code = ("import json, sys; from converge.api.fleet import connection_test; "
            "print(json.dumps([connection_test(sys.argv[1], n) for n in ('host0', 'host1')]))")
    out = subprocess.run(fleet.in_client(sys.executable, "-c", code, path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    known, unknown = json.loads(out.stdout)
    assert known["ok"] and known["reachable"] and known["key_known"] and known["missing"] == []
    assert known["tools"]["ip"] and not known["tools"]["zfs"]  # the hosts' PATH leaves this machine's ZFS out
    assert not unknown["reachable"] and unknown["key_known"] is False and "ssh-keyscan" in unknown["error"]


def test_the_apis_fleet_plan_and_apply_job_over_real_ssh(fleet: Fleet) -> None:
    """GET /api/v1/fleet/plan, POST /api/v1/fleet/apply and a host's resources (their functions, run
    in the client namespace): the job converges the three hosts, as `ip -n NS` shows."""
    path = inventory(fleet)
    code = """if True:
        import json, sys, time
        from converge.api import fleet, fleet_jobs
        from converge.api.service import Service
        svc = Service(sys.argv[1])
        before = fleet_jobs.fleet_plan(svc.directory, None, 3)
        job = svc.jobs[fleet_jobs.start_fleet_apply(svc, None, 3, "test")["id"]]
        while job.status not in ("done", "failed"):
            time.sleep(0.1)
        after = fleet_jobs.fleet_plan(svc.directory, None, 3)
        bridge = fleet.on_host(svc.directory, "host1", lambda t: svc.resource("interface", "brf0", t))
        print(json.dumps([before, job.as_dict(), after, bridge]))
    """
    out = subprocess.run(fleet.in_client(sys.executable, "-c", code, path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    before, job, after, bridge = json.loads(out.stdout.splitlines()[-1])  # after the apply's log lines
    assert [(r["name"], r["ok"], r["changes"] > 0) for r in before["hosts"]] == [
        ("host0", True, True), ("host1", True, True), ("host2", True, True)]
    assert job["status"] == "done" and all(r["result"].startswith("converged (") for r in job["report"]["hosts"])
    assert [r["result"] for r in after["hosts"]] == ["no changes"] * 3
    for i, host in enumerate(fleet.hosts):
        assert addresses(host.netns)["brf0"] == [f"10.80.{i}.1/24"]
    assert bridge["actual"]["addresses"] == ["10.80.1.1/24"] and bridge["drift"] == []


def test_an_apply_from_another_machine_holds_the_host(fleet: Fleet) -> None:
    """The apply lock is also held on the host itself: a flock taken there (as another machine's
    converge would) makes this apply wait, then fail clearly; released, the apply goes through."""
    host = fleet.hosts[0]
    path = inventory(fleet)
    lock = fleet.base / "roots" / host.name / "run" / "converge" / "apply.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(["flock", str(lock), "sleep", "60"], start_new_session=True)
    try:
        assert wait_for(lambda: subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 1, 10)
        busy = converge(fleet, "apply", path, "--limit", host.name)
        assert busy.returncode == 1
        assert f"another apply is running on ssh://root@{host.address}" in busy.stdout
        assert "brf0" not in addresses(host.netns)
    finally:
        stop_group(holder)
    done = converge(fleet, "apply", path, "--limit", host.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "brf0" in addresses(host.netns)
    assert subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 0  # released when the apply ended
