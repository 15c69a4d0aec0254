"""Kind `container` on the simulated podman/docker: exact argv, replace on create-only fields,
state start/stop, restart stamp once, pull as its own step, bad input refused before anything runs."""

from __future__ import annotations

import json

import pytest

from converge import engine
from converge.errors import ManifestError
from converge.model import Action

SEED = {"disks": ["/dev/sdb"], "images": ["docker.io/library/app:1"], "registry": ["docker.io/library/app:2"],
        "paths": ["/srv/www"]}
BASE = """pools:
  tank: {vdevs: [{disks: [/dev/sdb]}]}
datasets:
  tank/media: {}
containers:
  web:
    image: app:1
    ports: ["8080:80"]
    volumes: ["tank/media:/media:ro", "/srv/www:/www"]
    env: {TOKEN: s3cret}
    memory: 64M
    restart: unless-stopped
"""


def nas(tmp_path, manifest=BASE, seed=SEED):
    d = tmp_path / "nas"
    d.mkdir(exist_ok=True)
    (d / "converge.yaml").write_text(json.dumps({"sim": seed}))
    (d / "main.yaml").write_text(manifest)
    return d


def plan(d):
    return engine.plan(engine.open_target(str(d)))[0]


def runs(change):
    return [s.argv for s in change.steps if s.op == "run"]


def test_create_argv_is_exact_and_secrets_are_redacted(tmp_path):
    d = nas(tmp_path)
    web = [c for c in plan(d).changes if str(c.ref) == "container/web"][0]
    assert runs(web)[:2] == [
        ["podman", "create", "--pull", "never", "--name", "web", "--label", "converge.managed=true",
         "--label", "converge.env=TOKEN", "--env", "TOKEN=s3cret", "--publish", "8080:80/tcp",
         "--volume", "/srv/www:/www", "--volume", "/tank/media:/media:ro", "--restart", "unless-stopped",
         "--memory", "67108864", "docker.io/library/app:1"],
        ["podman", "start", "web"]]
    # restart: unless-stopped: a boot unit, verified before it is installed, its env values in a root-only file
    assert runs(web)[2:] == [
        ["systemd-analyze", "verify", "/var/lib/converge/unit-candidates/converge-container-web.service"],
        ["systemctl", "daemon-reload"], ["systemctl", "enable", "converge-container-web.service"]]
    [env_file] = [s for s in web.steps if s.op == "write" and s.path.endswith(".env")]
    assert env_file.mode == 0o600 and env_file.content == "TOKEN=s3cret\n"
    unit = next(s.content for s in web.steps if s.path == "/etc/systemd/system/converge-container-web.service")
    assert "s3cret" not in unit and "--env-file /etc/converge/containers/web.env" in unit
    assert "s3cret" not in web.steps[0].display() and "s3cret" not in plan(d).redacted().model_dump_json()
    assert [str(r) for r in web.depends_on] == ["dataset/tank/media"]


def test_apply_converges_then_env_change_is_a_replace_and_state_is_start_stop(tmp_path):
    d = nas(tmp_path)
    assert engine.reconcile(engine.open_target(str(d))).replan.empty
    (d / "main.yaml").write_text(BASE.replace("s3cret", "other"))
    [change] = plan(d).changes
    assert change.action is Action.REPLACE and [x.path for x in change.diffs] == ["env"]
    assert [x.forces_replace for x in change.diffs] == [True]
    assert runs(change)[:2] == [["podman", "stop", "web"], ["podman", "rm", "web"]]  # never `rm -v`
    engine.reconcile(engine.open_target(str(d)))
    (d / "main.yaml").write_text(BASE.replace("s3cret", "other") + "    state: stopped\n")
    [change] = plan(d).changes
    assert change.action is Action.UPDATE and runs(change) == [["podman", "stop", "web"]]


def test_restart_stamp_is_honoured_once(tmp_path):
    d = nas(tmp_path)
    engine.reconcile(engine.open_target(str(d)))
    (d / "main.yaml").write_text(BASE + "    restart_requested: 2026-11-22T10:00:00Z\n")
    [change] = plan(d).changes
    assert runs(change) == [["podman", "restart", "web"]]
    engine.reconcile(engine.open_target(str(d)))
    assert plan(d).empty


def test_missing_image_is_pulled_as_its_own_step(tmp_path):
    d = nas(tmp_path, BASE.replace("app:1", "app:2"))
    web = [c for c in plan(d).changes if str(c.ref) == "container/web"][0]
    assert runs(web)[0] == ["podman", "pull", "docker.io/library/app:2"]
    assert engine.reconcile(engine.open_target(str(d))).replan.empty


def test_unmanaged_containers_are_left_alone(tmp_path):
    d = nas(tmp_path)
    t = engine.open_target(str(d))
    t.host.run(["podman", "create", "--name", "theirs", "docker.io/library/app:1"])
    t.host.flush()
    assert all(str(c.ref) != "container/theirs" for c in plan(d).changes)


@pytest.mark.parametrize("body, message", [
    ("  bad: {image: 'Not An Image!'}\n", "is not an image reference"),
    ("  other: {image: 'app:1', ports: ['8080:81']}\n", "host port 8080/tcp is already used by container"),
    ("  vol: {image: 'app:1', volumes: ['tank/nope:/x']}\n", "dataset 'tank/nope' is not declared"),
    ("  small: {image: 'app:1', memory: 1M}\n", "memory below 6M"),
    ("  envy: {image: 'app:1', env: {'1BAD': x}}\n", "is not an environment variable name"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path, body, message):
    d = nas(tmp_path, BASE + body)
    with pytest.raises(ManifestError, match=message):
        engine.reconcile(engine.open_target(str(d)))
    assert not (d / ".converge" / "sim-host.json").exists()


def test_ports_with_network_none_or_host_are_refused() -> None:
    # podman 4.3 measured: `create --network none -p 8080:80` warns "Port mappings have been
    # discarded as one of the Host, Container, Pod, and None network modes are in use" and creates it
    import pytest
    from pydantic import ValidationError

    from converge.resources.container import ContainerSpec

    for network in ("none", "host"):
        with pytest.raises(ValidationError, match="discards port mappings"):
            ContainerSpec.model_validate({"image": "busybox", "network": network, "ports": ["8080:80"]})
    assert ContainerSpec.model_validate({"image": "busybox", "network": "bridge", "ports": ["8080:80"]}).ports == ["8080:80/tcp"]
