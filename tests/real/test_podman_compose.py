"""A compose stack on real podman-compose 1.0.3 + podman 4.3 (runc, vfs storage, network
configuration in a temp dir), driven by `converge apply` inside a network namespace this test
creates (podman-compose puts every service on a bridge network, whose firewall rules must not
reach this machine's own). Checked with podman's own `ps --filter label=com.docker.compose.project=…`
and `exec`. The image is built here from busybox-static (no registry is reachable)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from typing import Any

import pytest
from isolation import unique_name

from converge import engine

from .test_podman import LOOP, podman  # the same PID 1 and podman runner

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py
IMAGE = "localhost/busybox:converge-compose"
CNI_STATE = "/var/lib/cni/networks"  # host-local IPAM keeps one directory per network name here


@pytest.fixture
def compose_env(tmp_path_factory, monkeypatch):
    """Private podman storage, configuration, locks and network configs; a network namespace;
    the busybox image. Afterwards: every container of this storage, the namespace and the
    project network's IPAM directory, each by its exact name."""
    for tool in ("podman", "runc", "podman-compose", "nsenter"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is needed (apt-get install podman runc podman-compose util-linux): "
                        ".ci/apt-packages.txt lists them")
    base = tmp_path_factory.mktemp("compose")
    (base / "containers.conf").write_text(
        f'[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'tmp_dir = "{base}/tmp"\nlock_type = "file"\n'
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
        f'[network]\nnetwork_config_dir = "{base}/networks"\n')
    (base / "networks").mkdir()
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/graph"\nrunroot = "{base}/run"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(base / "containers.conf"))
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(base / "storage.conf"))
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep", "echo"):
        os.symlink("busybox", rootfs / "bin" / applet)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(base / "rootfs.tar"), "."], check=True)
    podman("import", str(base / "rootfs.tar"), IMAGE)
    netns, stack = unique_name(), unique_name()
    made = subprocess.run(["ip", "netns", "add", netns], capture_output=True, text=True)
    if made.returncode:
        pytest.fail(f"cannot create network namespace {netns}: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        yield {"base": base, "netns": netns, "stack": stack}
    finally:
        subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "podman", "rm", "-af", "-t", "0"],
                       capture_output=True, env=os.environ.copy())  # only this test's private storage
        podman("rmi", "-af", check=False)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        shutil.rmtree(os.path.join(CNI_STATE, f"{stack}_default"), ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def project_ps(stack: str) -> dict[str, dict[str, Any]]:
    """The project's containers by service, as podman itself lists them."""
    rows = json.loads(podman("ps", "-a", "--format", "json", "--filter",
                             f"label=com.docker.compose.project={stack}").stdout or "[]")
    return {r["Labels"]["com.docker.compose.service"]: r for r in rows}


MANIFEST = """stacks:
  STACK:
    file: app.compose.yaml
    env:
      GREETING: hello
      TOKEN: {env: CVT_COMPOSE_TOKEN}
"""
COMPOSE = f"""services:
  web:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    environment: {{GREETING: "${{GREETING}}", TOKEN: "${{TOKEN}}"}}
  worker:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
"""


def test_a_two_service_stack_comes_up_recreates_one_service_and_goes_down(compose_env, tmp_path, monkeypatch):
    stack, netns = compose_env["stack"], compose_env["netns"]
    monkeypatch.setenv("CVT_COMPOSE_TOKEN", "tok-3141")
    d, root = tmp_path / "manifests", tmp_path / "root"
    d.mkdir()
    (d / "main.yaml").write_text(MANIFEST.replace("STACK", stack))
    (d / "app.compose.yaml").write_text(COMPOSE)

    def apply() -> engine.Outcome:
        return engine.reconcile(engine.open_target(str(d), f"netns:{netns}", str(root)))

    first = apply()
    assert first.report.ok and first.replan.empty, first.report.failed
    got = project_ps(stack)
    assert sorted(got) == ["web", "worker"] and all(r["State"] == "running" for r in got.values())
    assert got["web"]["Labels"]["converge.stack"] == stack
    assert "tok-3141" not in first.plan.model_dump_json()
    env_file = root / "etc" / "converge" / "stacks" / stack / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    unit = root / "etc" / "systemd" / "system" / f"converge-stack-{stack}.service"
    assert f"podman-compose -p {stack} -f {root}/etc/converge/stacks/{stack}/compose.yaml up -d" in unit.read_text()
    web = got["web"]["Names"][0]
    assert podman("exec", web, "sh", "-c", "echo $GREETING $TOKEN").stdout == "hello tok-3141\n"
    ids = {s: r["Id"] for s, r in got.items()}

    second = apply()
    assert second.plan.empty and second.report.commands == 0

    # A changed value used by one service recreates that service only.
    (d / "main.yaml").write_text(MANIFEST.replace("STACK", stack).replace("GREETING: hello", "GREETING: bonjour"))
    plan, _ = engine.plan(engine.open_target(str(d), f"netns:{netns}", str(root)))
    assert [(str(c.ref), sorted(x.path for x in c.diffs)) for c in plan.changes] == [
        (f"stack/{stack}", ["services.web.definition", "services.web.env.GREETING"])]
    third = apply()
    assert third.report.ok and third.replan.empty, third.report.failed
    got = project_ps(stack)
    assert got["worker"]["Id"] == ids["worker"] and got["web"]["Id"] != ids["web"]
    assert got["web"]["State"] == "running"
    assert podman("exec", got["web"]["Names"][0], "sh", "-c", "echo $GREETING").stdout == "bonjour\n"

    # state: down removes the project's containers.
    (d / "main.yaml").write_text(MANIFEST.replace("STACK", stack).replace("    env:", "    state: down\n    env:"))
    fourth = apply()
    assert fourth.report.ok and fourth.replan.empty, fourth.report.failed
    assert project_ps(stack) == {} and not unit.exists()  # a stack that is down does not come up at boot


def test_the_runtime_refuses_a_file_it_cannot_parse_at_plan_time(compose_env, tmp_path):
    stack, netns = compose_env["stack"], compose_env["netns"]
    d = tmp_path / "manifests"
    d.mkdir()
    (d / "main.yaml").write_text(f"stacks:\n  {stack}: {{file: app.compose.yaml}}\n")
    # valid for converge's own checks, refused by podman-compose's parser: a network no service declares
    (d / "app.compose.yaml").write_text(f"services:\n  web: {{image: {IMAGE}, networks: [back]}}\n")
    from converge.errors import PlanError

    with pytest.raises(PlanError, match=rf"stack {stack}: app.compose.yaml: podman-compose refuses it: .*missing networks"):
        engine.plan(engine.open_target(str(d), f"netns:{netns}", str(tmp_path / "root")))
    assert project_ps(stack) == {}
