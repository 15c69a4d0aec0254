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
    ("  lost: {image: 'app:1', networks: [nowhere]}\n", "container_network 'nowhere' is not declared nor present"),
    ("  caps: {image: 'app:1', cap_add: [bad-cap]}\n", "is not a capability name"),
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

    from converge.resources.containers.container import ContainerSpec

    for network in ("none", "host"):
        with pytest.raises(ValidationError, match="discards port mappings"):
            ContainerSpec.model_validate({"image": "busybox", "network": network, "ports": ["8080:80"]})
    assert ContainerSpec.model_validate({"image": "busybox", "network": "bridge", "ports": ["8080:80"]}).ports == ["8080:80/tcp"]


# -- fields read back from recorded real podman 4.3 inspect output ----------------------------------
def recorded_inspect():
    from tests.resources.recorded import fixture

    return {d["Name"]: d for d in json.loads(fixture("podman/inspect-fields.json"))}


def test_recorded_podman_inspect_reads_back_as_the_manifest_declares():
    from converge.resources.containers.common import spec_form
    from converge.resources.containers.container import ContainerSpec
    from converge.resources.containers.fields import map_declared
    from converge.resources.containers.parse import spec_from_inspect

    raw = recorded_inspect()
    declared = ContainerSpec.model_validate({
        "image": "localhost/busybox:rec", "labels": {"app": "web"}, "network": "none",
        "devices": ["/dev/fuse:/dev/fuse:rwm", "/dev/null:/dev/mynull"], "cap_add": ["NET_ADMIN", "sys_ptrace"],
        "cap_drop": ["MKNOD"], "user": "1000:1000", "entrypoint": ["/bin/sh", "-c"],
        "command": ['trap "exit 0" TERM; while true; do sleep 1; done'],
        "healthcheck": {"test": ["CMD-SHELL", "echo ok"], "interval": "30s", "timeout": "5s", "start_period": "10s"}})
    got = spec_form(map_declared(spec_from_inspect("podman", raw["full"]), declared))
    want = declared.declared()
    assert {k: got.get(k) for k in want} == want
    # podman 4.3 keeps the entrypoint as one blank-joined string: without the manifest it reads split
    assert spec_form(spec_from_inspect("podman", raw["full"]))["entrypoint"] == ["/bin/sh", "-c"]
    networks = spec_form(spec_from_inspect("podman", raw["t5"]))
    assert networks["networks"] == ["c2neta", "c2netb"] and networks["network"] == "bridge"
    plain = spec_form(spec_from_inspect("podman", raw["plain"]))
    assert not {"devices", "cap_add", "cap_drop", "user", "healthcheck", "entrypoint", "networks"} & {
        k for k, v in plain.items() if v}


def test_device_permissions_podman_does_not_report_are_read_as_declared():
    from converge.resources.containers.container import ContainerSpec
    from converge.resources.containers.fields import map_declared

    declared = ContainerSpec.model_validate({"image": "busybox", "devices": ["/dev/null:/dev/n:r"]})
    assert map_declared({"devices": ["/dev/null:/dev/n"]}, declared)["devices"] == ["/dev/null:/dev/n:r"]
    assert map_declared({"devices": ["/dev/zero:/dev/n"]}, declared)["devices"] == ["/dev/zero:/dev/n"]


@pytest.mark.parametrize("spec, message", [
    ({"devices": ["dri"]}, "is not a device"),
    ({"devices": ["/dev/null:/dev/n:rx"]}, "permissions are some of r, w, m"),
    ({"cap_add": ["net-admin"]}, "is not a capability name"),
    ({"user": "a b"}, "is not USER"),
    ({"healthcheck": {"test": "true", "interval": "soon"}}, "is not a duration"),
    ({"healthcheck": {"test": ["NONE"]}}, "healthcheck test"),
    ({"networks": ["a"], "network": "host"}, "a container on named networks has no other mode"),
    ({"runtime": "docker", "entrypoint": ["/bin/sh", "-c"]}, "docker's --entrypoint takes one program"),
    ({"runtime": "docker", "healthcheck": {"test": ["/bin/check"]}}, "docker healthcheck"),
    ({"runtime": "lxc", "template": "busybox", "image": None, "cap_add": ["NET_ADMIN"]}, "lxc containers have no cap_add"),
])
def test_bad_new_fields_are_refused(spec, message):
    from pydantic import ValidationError

    from converge.resources.containers.container import ContainerSpec

    with pytest.raises(ValidationError, match=message):
        ContainerSpec.model_validate({"image": "busybox", **spec})


def test_durations_round_trip():
    from hypothesis import given
    from hypothesis import strategies as st

    from converge.resources.containers.fields import format_duration, parse_duration

    assert format_duration(parse_duration("90s")) == "1m30s" and parse_duration("1h2m3s") == 3723 * 10**9
    assert format_duration(parse_duration("500ms")) == "500ms" and format_duration(0) == "0s"

    @given(st.integers(min_value=0, max_value=10**6))
    def seconds(n):
        assert parse_duration(format_duration(n * 10**9)) == n * 10**9

    seconds()


# -- pull: newer ------------------------------------------------------------------------------------
NEWER = "sha256:" + "c" * 64


def test_pull_newer_replaces_when_the_local_store_has_another_digest_and_shows_it(tmp_path):
    seed = {**SEED, "registry": ["docker.io/library/app:1"], "registry_digests": {"docker.io/library/app:1": NEWER}}
    manifest = "containers:\n  web: {image: 'app:1', pull: newer}\n"
    d = nas(tmp_path, manifest, seed)
    assert engine.reconcile(engine.open_target(str(d))).replan.empty
    assert plan(d).empty  # same digest: nothing to do
    t = engine.open_target(str(d))
    t.host.run(["podman", "pull", "docker.io/library/app:1"])  # someone pulled a newer image under the tag
    t.host.flush()
    [change] = plan(d).changes
    assert change.action is Action.REPLACE
    [diff] = change.diffs
    assert (diff.path, diff.after_text) == ("image digest", "sha256:cccccccccccc…")
    assert diff.before_text.startswith("sha256:") and diff.before_text != diff.after_text
    assert runs(change)[0] == ["podman", "stop", "web"]  # no pull: the local store already has it
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty


def test_pull_missing_ignores_a_newer_local_image(tmp_path):
    seed = {**SEED, "registry": ["docker.io/library/app:1"], "registry_digests": {"docker.io/library/app:1": NEWER}}
    d = nas(tmp_path, "containers:\n  web: {image: 'app:1'}\n", seed)
    engine.reconcile(engine.open_target(str(d)))
    t = engine.open_target(str(d))
    t.host.run(["podman", "pull", "docker.io/library/app:1"])
    t.host.flush()
    assert plan(d).empty


# -- container_network ------------------------------------------------------------------------------
def test_recorded_podman_network_ls_parses_to_the_spec_form():
    from converge.resources.containers.network import parse_network
    from tests.resources.recorded import fixture

    rows = json.loads(fixture("podman/network-ls.json"))
    got = {name: (spec, labels) for name, spec, labels in (parse_network("podman", r) for r in rows)}
    assert got["c2mac"] == ({"runtime": "podman", "driver": "macvlan", "subnet": "192.168.77.0/24",
                             "gateway": "192.168.77.1", "parent": "lo"}, {"converge.managed": "true"})
    assert got["c2neta"][0] == {"runtime": "podman", "driver": "bridge", "subnet": "10.89.77.0/24",
                                "gateway": "10.89.77.1"}  # a bridge's own interface is not a parent
    assert got["podman"][1] == {}  # podman's own network: unmanaged


@pytest.mark.parametrize("spec, message", [
    ({"subnet": "10.0.0.0/33"}, "is not a subnet"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "is not inside subnet"),
    ({"gateway": "10.0.0.1"}, "gateway needs subnet"),
    ({"parent": "eth0"}, "parent is for macvlan and ipvlan"),
    ({"driver": "overlay"}, "driver"),
])
def test_bad_networks_are_refused(spec, message):
    from pydantic import ValidationError

    from converge.resources.containers.network import ContainerNetworkSpec

    with pytest.raises(ValidationError, match=message):
        ContainerNetworkSpec.model_validate(spec)


def test_a_network_in_use_is_not_removed_from_under_its_container(tmp_path):
    """The sim refuses `network rm` of an attached network as podman does; converge orders the
    container's removal first, so the whole delete applies."""
    d = nas(tmp_path, "container_networks: {lan: {}}\ncontainers:\n  web: {image: 'app:1', networks: [lan]}\n")
    assert engine.reconcile(engine.open_target(str(d))).replan.empty
    t = engine.open_target(str(d))
    refused = t.host.run(["podman", "network", "rm", "lan"], check=False)
    assert refused.returncode == 125 and "network is being used" in refused.stderr
    (d / "main.yaml").write_text("containers: {}\n")
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty


def test_pull_newer_asks_the_registry_where_it_answers_and_pulls_before_the_replace(tmp_path):
    later = "sha256:" + "d" * 64
    seed = {**SEED, "registry": ["docker.io/library/app:1"], "registry_reachable": True,
            "registry_digests": {"docker.io/library/app:1": NEWER}}
    d = nas(tmp_path, "containers:\n  web: {image: 'app:1', pull: newer}\n", seed)
    web = [c for c in plan(d).changes if str(c.ref) == "container/web"][0]
    assert runs(web)[0] == ["podman", "pull", "docker.io/library/app:1"]  # the local copy is behind
    assert engine.reconcile(engine.open_target(str(d))).replan.empty
    t = engine.open_target(str(d))
    t.host.facts.sim["registry_digests"]["docker.io/library/app:1"] = later  # pushed upstream
    t.host.changed()
    t.host.flush()
    [change] = plan(d).changes
    assert [(x.path, x.before_text, x.after_text) for x in change.diffs] == [
        ("image digest", "sha256:cccccccccccc…", "sha256:dddddddddddd…")]
    assert runs(change)[:3] == [["podman", "pull", "docker.io/library/app:1"], ["podman", "stop", "web"],
                                ["podman", "rm", "web"]]
    assert engine.reconcile(engine.open_target(str(d))).replan.empty


def test_a_network_change_under_a_container_is_refused_at_plan_time(tmp_path):
    from converge.errors import PlanError

    d = nas(tmp_path, "container_networks: {lan: {subnet: 10.1.0.0/24}}\ncontainers:\n  web: {image: 'app:1', networks: [lan]}\n")
    assert engine.reconcile(engine.open_target(str(d))).replan.empty
    (d / "main.yaml").write_text((d / "main.yaml").read_text().replace("10.1.0.0", "10.2.0.0"))
    with pytest.raises(PlanError, match=r"container_network lan: .* containers are on it \(web\)"):
        plan(d)
