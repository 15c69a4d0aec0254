"""`converge sim reboot`: apply, reboot, and the plan is empty exactly when everything was persisted."""

from __future__ import annotations

import os
import shutil
from typing import Any

from click.testing import CliRunner

from converge import engine
from converge.cli import main
from converge.hosts.sim.reboot import reboot

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")

NAS = """\
pools:
  fast: {driver: btrfs, disks: [/dev/sdb], mountpoint: /srv/fast}
datasets:
  fast/apps: {}
containers:
  web: {image: docker.io/library/nginx:1.25, restart: unless-stopped, volumes: ["fast/apps:/data"]}
  once: {image: docker.io/library/nginx:1.25, restart: "no", ports: ["8081:80"]}
interfaces:
  br0: {type: bridge, ports: [eth0], addresses: [192.168.1.10/24], state: up}
"""


def directory(tmp_path: Any, text: str) -> str:
    (tmp_path / "nas.yaml").write_text(text)
    (tmp_path / "converge.yaml").write_text(
        f"host: sim:{tmp_path}/sim.json\nsim:\n  disks: [/dev/sdb]\n  links: [eth0]\n  paths: [/srv/fast]\n"
        "  images: [docker.io/library/nginx:1.25]\n")
    return str(tmp_path)


def plan_after_reboot(tmp_path: Any) -> list[str]:
    target = engine.open_target(str(tmp_path))
    reboot(target.host)  # type: ignore[arg-type]
    plan, _ = engine.plan(engine.open_target(str(tmp_path)))
    return [f"{c.action.value} {c.ref}: " + ", ".join(d.path for d in c.diffs) for c in plan.changes]


def test_what_converge_persisted_comes_back_and_only_that(tmp_path: Any) -> None:
    engine.reconcile(engine.open_target(directory(tmp_path, NAS)))
    # the pool's mount unit, web's unit and br0's networkd files come back; `once` (restart: no) does not
    assert plan_after_reboot(tmp_path) == ["~ container/once: state"]


def test_plan_after_reboot_plans_against_a_rebooted_copy(tmp_path: Any) -> None:
    engine.reconcile(engine.open_target(directory(tmp_path, NAS)))
    before = (tmp_path / "sim.json").read_text()
    result = CliRunner().invoke(main, ["plan", str(tmp_path), "--after-reboot"], catch_exceptions=False)
    assert "~ container once" in result.output and "~ container web" not in result.output, result.output
    assert (tmp_path / "sim.json").read_text() == before  # the host itself did not reboot


def test_without_units_nothing_comes_back(tmp_path: Any) -> None:
    text = NAS.replace("mountpoint: /srv/fast}", "mountpoint: /srv/fast, persist: false}") \
        .replace("restart: unless-stopped,", "restart: unless-stopped, persist: false,") \
        + "services:\n  systemd-networkd: {enabled: false}\n"
    engine.reconcile(engine.open_target(directory(tmp_path, text)))
    # the pool is not mounted (its subvolume unseen), br0 is gone, no container runs
    assert plan_after_reboot(tmp_path) == [
        "~ pool/fast: mountpoint", "~ batch/interfaces: ", "~ container/once: state",
        "+ dataset/fast/apps: ", "+ interface/br0: addresses, ports, state, type", "~ container/web: state"]


def test_the_homelab_example_survives_a_reboot(tmp_path: Any) -> None:
    example = str(tmp_path / "homelab")
    shutil.copytree(os.path.join(EXAMPLES, "homelab"), example, ignore=shutil.ignore_patterns(".converge"))
    runner = CliRunner()
    assert runner.invoke(main, ["apply", example], catch_exceptions=False).exit_code == 0
    result = runner.invoke(main, ["sim", "reboot", example], catch_exceptions=False)
    assert result.exit_code == 0 and "up: container jellyfin" in result.output, result.output
    result = runner.invoke(main, ["plan", example, "--detailed-exitcode"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_a_reboot_waits_for_no_apply_it_refuses_while_one_runs(tmp_path: Any) -> None:
    from converge.lock import apply_lock

    engine.reconcile(engine.open_target(directory(tmp_path, NAS)))
    before = (tmp_path / "sim.json").read_text()
    with apply_lock(str(tmp_path / "sim.json.lock")):  # an apply in progress
        result = CliRunner().invoke(main, ["sim", "reboot", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1 and "another apply is running" in result.output, result.output
    assert (tmp_path / "sim.json").read_text() == before
