"""Real systemd tools on what converge writes for the host and for persistence: settings files
under --root (readlink, `sysctl -p` in a private network namespace), `systemctl --root enable`
links, `systemd-analyze verify` of every unit, and two reboots done by hand: a btrfs pool on a
loop device mounted again from its unit's What=/Where=/Options=, and a podman container brought
back by its unit's ExecStart."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from converge import engine
from converge.formats.systemd import parse_unit

from .test_podman import IMAGE, LOOP, podman, podman_env, ps  # noqa: F401  (podman_env is a fixture)

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py


def sh(*argv: str) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result.stdout


def apply(directory: Any, root: Any) -> engine.Outcome:
    outcome = engine.reconcile(engine.open_target(str(directory), "local", str(root)))
    assert outcome.report.ok, outcome.report.as_dict()
    return outcome


def plan(directory: Any, root: Any) -> list[str]:
    result, _ = engine.plan(engine.open_target(str(directory), "local", str(root)))
    return [f"{c.action.value} {c.ref}: {[d.path for d in c.diffs]}" for c in result.changes]


def manifests(tmp_path: Any, text: str) -> Any:
    d = tmp_path / "manifests"
    d.mkdir(exist_ok=True)
    (d / "host.yaml").write_text(text)
    return d


def test_settings_files_under_root_are_what_the_real_tools_read(tmp_path: Any) -> None:
    for tool in ("sysctl", "unshare", "systemctl", "systemd-analyze"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            pytest.fail(f"{tool} is needed (procps, util-linux, systemd)")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/resolv.conf").write_text("options edns0\nnameserver 10.9.9.9\n")
    vendor = root / "lib/systemd/system"
    vendor.mkdir(parents=True)
    (vendor / "cvdemo.service").write_text("[Unit]\nDescription=demo\n[Service]\nExecStart=/bin/true\n"
                                           "[Install]\nWantedBy=multi-user.target\n")
    d = manifests(tmp_path, """\
system:
  hostname: cvtest
  timezone: Europe/Berlin
  dns: {nameservers: [192.168.1.1], search: [lan]}
  ntp: {servers: [ntp.example.org]}
  sysctl: {net.ipv4.ip_forward: 1, net.ipv4.conf.all.rp_filter: 2}
services:
  cvdemo: {enabled: true, state: running}
""")
    outcome = apply(d, root)
    assert "state and restarts are not applied: systemd is not running" in next(
        c.reason for c in outcome.plan.changes if str(c.ref) == "service/cvdemo")
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/Berlin"
    assert os.path.isfile(os.readlink(root / "etc/localtime"))  # a zoneinfo file of this machine's tzdata
    assert (root / "etc/hostname").read_text() == "cvtest\n"
    assert (root / "etc/resolv.conf").read_text().endswith("options edns0\nsearch lan\nnameserver 192.168.1.1\n")
    link = root / "etc/systemd/system/multi-user.target.wants/cvdemo.service"
    assert os.readlink(link) == "/lib/systemd/system/cvdemo.service"  # made by `systemctl --root enable`
    # the drop-in parses with the real sysctl, applied in a private network namespace only
    out = sh("unshare", "-n", "sh", "-c", f"sysctl -p {root}/etc/sysctl.d/90-converge.conf && "
                                          "sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter")
    assert out.endswith("1\n2\n"), out
    assert plan(d, root) == []


@pytest.fixture
def loop(loops: Any) -> Any:
    """One loop device of tests/real/conftest.py (detached only while its backing file is ours)."""
    return loops[0]


def test_a_btrfs_pool_is_mounted_again_from_its_unit_after_a_reboot(loop: str, tmp_path: Any) -> None:
    name = "cv" + uuid.uuid4().hex[:10]  # a unique label: parallel runs never see each other's pool
    root = tmp_path / "root"
    d = manifests(tmp_path, f"pools:\n  {name}: {{driver: btrfs, disks: [{loop}], mountpoint: /srv/{name}}}\n"
                            f"datasets:\n  {name}/media: {{}}\n")
    apply(d, root)
    unit_name = f"srv-{name}.mount"
    assert sh("systemd-escape", "--path", "--suffix=mount", f"/srv/{name}").strip() == unit_name
    unit_file = root / "etc/systemd/system" / unit_name
    sh("systemd-analyze", "verify", str(unit_file))
    assert os.readlink(root / "etc/systemd/system/local-fs.target.wants" / unit_name) == \
        f"/etc/systemd/system/{unit_name}"
    mount = parse_unit(unit_file.read_text())["Mount"]
    assert mount["What"] == "UUID=" + sh("blkid", "-s", "UUID", "-o", "value", loop).strip()
    # the reboot: everything converge mounted goes, then systemd's mount of the unit
    where = str(root) + mount["Where"]
    sh("umount", where)
    assert plan(d, root) != []  # unmounted, the pool is drift
    sh("mount", "-t", mount["Type"], "-o", mount["Options"], mount["What"], where)
    assert plan(d, root) == []


@pytest.mark.usefixtures("podman_env")
def test_a_podman_container_comes_back_from_its_unit(tmp_path: Any) -> None:
    root = tmp_path / "root"
    d = manifests(tmp_path, f"""\
containers:
  cvboot:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    network: none
    restart: always
    labels: {{app: "50% off"}}
""")
    apply(d, root)
    unit_file = root / "etc/systemd/system/converge-container-cvboot.service"
    sh("systemd-analyze", "verify", str(unit_file))
    assert os.readlink(root / "etc/systemd/system/default.target.wants/converge-container-cvboot.service") == \
        "/etc/systemd/system/converge-container-cvboot.service"
    exec_start = parse_unit(unit_file.read_text())["Service"]["ExecStart"]
    podman("rm", "-f", "-t", "0", "cvboot")  # the reboot: the container is gone
    assert "cvboot" not in ps()
    argv = [a.replace("%%", "%") for a in shlex.split(exec_start)]  # systemd's specifier unescaping
    subprocess.run(argv, check=True, capture_output=True, env=os.environ.copy())
    assert ps()["cvboot"]["State"] == "running"
    assert plan(d, root) == []


def test_a_unit_the_verifier_refuses_fails_the_apply_and_the_old_unit_stays(tmp_path: Any) -> None:
    from converge.executor import execute
    from converge.hosts import LocalHost
    from converge.model import Action, Change, Plan, Ref
    from converge.resources.system.units import install_unit_steps

    root = tmp_path / "root"
    installed = root / "etc/systemd/system/cvbad.service"
    installed.parent.mkdir(parents=True)
    installed.write_text("[Service]\nExecStart=/bin/true\n")
    host = LocalHost(str(root))
    steps = install_unit_steps(host, "cvbad.service", "[Service]\nExecStart=/nonexistent/cvbad\n")
    report = execute(Plan(changes=[Change(ref=Ref(kind="container", name="cvbad"), action=Action.UPDATE,
                                          steps=steps)]), host)
    [failure] = report.failed
    assert "systemd-analyze verify" in failure.step and "/nonexistent/cvbad is not executable" in failure.error
    assert installed.read_text() == "[Service]\nExecStart=/bin/true\n"


def test_mount_unit_names_are_what_systemd_escape_makes() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from converge.formats.systemd import escape_path

    segment = st.text(st.characters(min_codepoint=32, max_codepoint=0x24F, blacklist_characters="/\x7f"),
                      min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(segment, min_size=1, max_size=4))
    def check(parts: list[str]) -> None:
        path = "/" + "/".join(parts)
        assert escape_path(path) == sh("systemd-escape", "--path", path).strip()

    check()
