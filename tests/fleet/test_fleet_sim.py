"""Fleet commands on an inventory of simulated hosts: selection, overlays, parallel runs, the
summary and its exit codes, saved plans bound to their host, Ansible inventories, and located
errors in converge.yaml."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from converge.cli import main
from converge.config import load_fleet
from converge.errors import ManifestError
from converge.fleet.ansible import parse

INVENTORY = """host_defaults:
  manifests: [common, "hosts/{name}"]
hosts:
  a: {address: "sim:a.json", tags: [web]}
  b: {address: "sim:b.json", vars: {greeting: hi}}
  c: {address: "sim:c.json"}
host_groups:
  storage: [a, b]
"""


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def fleet(tmp_path, inventory: str = INVENTORY):
    (tmp_path / "converge.yaml").write_text(inventory)
    (tmp_path / "common").mkdir()
    (tmp_path / "hosts" / "b").mkdir(parents=True)
    (tmp_path / "common" / "system.yaml").write_text("system: {hostname: shared}\n")
    (tmp_path / "hosts" / "b" / "system.yaml.j2").write_text("system: {hostname: '{{ greeting }}-b'}\n")
    return str(tmp_path)


def test_apply_all_converges_each_host_then_no_changes(tmp_path):
    path = fleet(tmp_path)
    first = run("apply", path, "--all", "--forks", "3")
    assert first.exit_code == 0, first.output
    assert "3 hosts: 3 ok, 0 failed, 3 with changes" in first.output
    for name, hostname in (("a", "shared"), ("b", "hi-b"), ("c", "shared")):
        state = json.loads((tmp_path / f"{name}.json").read_text())
        assert state["files"]["/etc/hostname"] == hostname + "\n"
    second = run("plan", path, "--all", "--detailed-exitcode")
    assert second.exit_code == 0, second.output
    assert second.output.count("no changes") == 3


def test_limit_by_group_and_tag_and_unknown_name(tmp_path):
    path = fleet(tmp_path)
    result = run("plan", path, "--limit", "storage", "--detailed-exitcode")
    assert result.exit_code == 2 and "== a " in result.output and "== b " in result.output and "== c " not in result.output
    assert "== a " in run("plan", path, "--limit", "web").output
    bad = run("plan", path, "--limit", "nope")
    assert bad.exit_code == 1 and "--limit nope: no such host, group or tag (known: a, b, c, storage, web)" in bad.output


def test_overlay_wins_and_validate_shows_it(tmp_path):
    path = fleet(tmp_path)
    result = run("validate", path, "--limit", "b")
    assert result.exit_code == 0, result.output
    assert "overlay: system/host: " in result.output and "hosts/b/system.yaml.j2:1 overrides" in result.output


def test_a_failing_host_does_not_stop_the_others(tmp_path):
    path = fleet(tmp_path, INVENTORY.replace("sim:c.json", "ssh://root@127.0.0.1:1"))
    result = run("apply", path, "--all")
    assert result.exit_code == 1
    assert "3 hosts: 2 ok, 1 failed" in result.output
    assert "cannot reach ssh://root@127.0.0.1:1" in result.output
    assert (tmp_path / "a.json").exists() and (tmp_path / "b.json").exists()


def test_json_gives_per_host_plans(tmp_path):
    out = json.loads(run("plan", fleet(tmp_path), "--all", "--json").output)
    assert sorted(out["hosts"]) == ["a", "b", "c"]
    assert out["hosts"]["b"]["plan"]["changes"][0]["ref"] == {"kind": "system", "name": "host"}


def test_saved_plan_is_refused_on_another_host(tmp_path):
    path = fleet(tmp_path)
    assert run("plan", path, "--all", "-o", str(tmp_path / "plans")).exit_code == 0
    saved = str(tmp_path / "plans" / "b.json")
    assert json.loads(open(saved).read())["inventory_host"] == "b"
    other = run("apply", saved, "--limit", "a")
    assert other.exit_code == 1 and "this plan was made for host b of the inventory" in other.output
    assert not (tmp_path / "a.json").exists()
    mine = run("apply", saved)
    assert mine.exit_code == 0, mine.output
    assert json.loads((tmp_path / "b.json").read_text())["files"]["/etc/hostname"] == "hi-b\n"


def test_single_host_saved_plan_is_refused_on_another_host(tmp_path):
    (tmp_path / "s.yaml").write_text("system: {hostname: x}\n")
    saved = str(tmp_path / "plan.json")
    assert run("plan", str(tmp_path), "--host", f"sim:{tmp_path}/one.json", "-o", saved).exit_code == 0
    result = run("apply", saved, "--host", f"sim:{tmp_path}/two.json")
    assert result.exit_code == 1 and "this plan was made for sim:" in result.output
    assert not (tmp_path / "two.json").exists()


def test_inventory_errors_are_located(tmp_path):
    (tmp_path / "converge.yaml").write_text("hosts:\n  a: {address: 'ftp://x'}\n  b: {address: 'ssh://b', port: 2}\n"
                                            "host_groups:\n  g: [a, zz]\n")
    try:
        load_fleet(str(tmp_path))
    except ManifestError as e:
        text = str(e)
    else:
        raise AssertionError("no error")
    assert "converge.yaml:2:" in text and "hosts.a.address" in text and "'ftp://x' is not a host address" in text
    assert "converge.yaml:3:" in text and "hosts.b.port" in text
    (tmp_path / "converge.yaml").write_text("hosts:\n  a: {address: 'ssh://a'}\nhost_groups:\n  g: [a, zz]\n")
    try:
        load_fleet(str(tmp_path))
    except ManifestError as e:
        assert "converge.yaml:4:" in str(e) and "host_groups.g.1: 'zz' is not a host of the inventory" in str(e)
    else:
        raise AssertionError("no error")


def test_ansible_ini_inventory_is_accepted_as_is(tmp_path):
    (tmp_path / "hosts.ini").write_text("""# an Ansible inventory
mail.example.com

[webservers]
foo.example.com ansible_user=admin
bar ansible_host=10.0.0.5 ansible_port=2222 http_port=80

[dbservers]
one ansible_host=fd00::1

[prod:children]
webservers

[prod:vars]
env=production
""")
    (tmp_path / "converge.yaml").write_text("inventory: hosts.ini\nhost_defaults: {known_hosts: kh}\n")
    _, hosts = load_fleet(str(tmp_path))
    assert {n: h.address for n, h in hosts.items()} == {
        "mail.example.com": "ssh://mail.example.com", "foo.example.com": "ssh://admin@foo.example.com",
        "bar": "ssh://10.0.0.5:2222", "one": "ssh://[fd00::1]"}
    assert hosts["bar"].groups == ["prod", "webservers"] and hosts["bar"].vars == {"env": "production", "http_port": 80}
    assert hosts["one"].ssh["known_hosts"] == os.path.join(str(tmp_path), "kh")
    result = run("plan", str(tmp_path), "--limit", "dbservers")  # selected by its Ansible group
    assert "== one (ssh://[fd00::1]) ==" in result.output


def test_ansible_yaml_inventory_and_its_errors():
    issues: list = []
    hosts = parse("all:\n  children:\n    web:\n      hosts:\n        w1: {ansible_host: 10.1.1.1}\n"
                  "      vars: {x: 1}\n", "inv.yml", issues)
    assert not issues and hosts["w1"].address == "ssh://10.1.1.1" and hosts["w1"].groups == ["web"]
    parse("[web]\nweb[01:10].example.com\n", "inv.ini", issues)
    assert issues and issues[0].line == 2 and "host ranges" in issues[0].message


def test_run_a_policy_on_every_host(tmp_path):
    (tmp_path / "converge.yaml").write_text("""sim:
  disks: {/dev/disk/by-id/d1: {size: 4000787030016}}
hosts:
  a: {address: "sim:a.json"}
  b: {address: "sim:b.json"}
""")
    (tmp_path / "storage.yaml").write_text("""pools:
  tank: {driver: zfs, vdevs: [{type: stripe, disks: [/dev/disk/by-id/d1]}]}
datasets:
  tank/data: {}
snapshot_policies:
  hourly: {datasets: [tank/data], schedule: hourly, keep: 2}
""")
    assert run("apply", str(tmp_path), "--all").exit_code == 0
    result = run("run", "snapshot_policy/hourly", "-C", str(tmp_path), "--all", "--at", "2026-01-01T10:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.output.count("created tank/data@auto-hourly-20260101-100000") == 2
    assert "2 hosts: 2 ok, 0 failed, 2 with changes" in result.output


def test_overlays_below_the_shared_directory_belong_to_their_host_only(tmp_path):
    (tmp_path / "converge.yaml").write_text("""host_defaults: {manifests: [".", "hosts/{name}"]}
hosts:
  a: {address: "sim:a.json"}
  b: {address: "sim:b.json"}
  c: {address: "sim:c.json"}
""")
    (tmp_path / "system.yaml").write_text("system: {hostname: shared}\n")
    for name in ("a", "b"):
        (tmp_path / "hosts" / name).mkdir(parents=True)
        (tmp_path / "hosts" / name / "system.yaml").write_text(f"system: {{hostname: own-{name}}}\n")
    result = run("apply", str(tmp_path), "--all")
    assert result.exit_code == 0, result.output
    hostnames = {n: json.loads((tmp_path / f"{n}.json").read_text())["files"]["/etc/hostname"] for n in "abc"}
    assert hostnames == {"a": "own-a\n", "b": "own-b\n", "c": "shared\n"}
    # the directory's own host (no --limit) reads the shared manifests only: a host's overlay is
    # that host's, and two overlays of one resource would otherwise clash as "declared twice"
    own = run("plan", str(tmp_path), "--host", f"sim:{tmp_path}/own.json")
    assert own.exit_code == 0, own.output
    assert "hostname: (unset) → shared" in own.output and "own-a" not in own.output and "own-b" not in own.output
    assert run("validate", str(tmp_path)).exit_code == 0


def test_a_simulated_hosts_seed_of_the_wrong_shape_is_a_located_error(tmp_path):
    (tmp_path / "converge.yaml").write_text("sim:\n  disks: {/dev/sdb: 10G}\n  links: [eno1]\n")
    (tmp_path / "pool.yaml").write_text("pools:\n  tank: {vdevs: [{disks: [/dev/sdb]}]}\n")
    bad = run("plan", str(tmp_path))
    assert bad.exit_code == 1 and "converge.yaml:2:11: sim.disks./dev/sdb: Input should be a valid dictionary" in bad.output
    assert "Traceback" not in bad.output and "internal error" not in bad.output
    (tmp_path / "converge.yaml").write_text("sim:\n  disks: {/dev/sdb: {size: 10G}}\n  links: [eno1]\n")
    good = run("plan", str(tmp_path))
    assert good.exit_code == 0 and "+ pool tank" in good.output, good.output
