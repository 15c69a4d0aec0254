"""Kind `stack` on the simulated podman-compose: secrets only in the root-only env file, a file
from the manifest directory (never read as a manifest), datasets in volumes, one shared `ps`,
plans per service, and bad input refused with file:line before anything runs."""

from __future__ import annotations

import json
import os

import pytest

from converge import engine
from converge.errors import ManifestError, PlanError
from converge.model import Action

SEED = {"disks": ["/dev/sdb"], "images": ["docker.io/library/busybox:1"]}
PASSWORD = "correct horse battery"


def nas(tmp_path, manifest, files=None, secret=PASSWORD):
    d = tmp_path / "nas"
    d.mkdir(exist_ok=True)
    (d / "converge.yaml").write_text(json.dumps({"sim": SEED, "settings": {"user": {"secrets_dir": "secrets"}}}))
    (d / "main.yaml").write_text(manifest)
    for name, text in (files or {}).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    (d / "secrets").mkdir(exist_ok=True)
    if secret is not None:
        path = d / "secrets" / "db"
        path.write_text(secret + "\n")
        os.chmod(path, 0o600)
    return d


def sim_state(d):
    return json.loads((d / ".converge" / "sim-host.json").read_text())


SECRET_STACK = """stacks:
  cloud:
    compose:
      services:
        app: {image: "busybox:1", environment: {DB_PASS: "${DB_PASSWORD}", MODE: "${MODE}"}}
        db: {image: "busybox:1", environment: {POSTGRES_PASSWORD: "${DB_PASSWORD}"}}
        cache: {image: "busybox:1"}
    env:
      DB_PASSWORD: {secret: db}
      MODE: fast
"""


def test_a_secret_is_in_no_plan_argv_or_label_and_reaches_the_services(tmp_path):
    d = nas(tmp_path, SECRET_STACK)
    target = engine.open_target(str(d))
    plan = engine.plan(target)[0]
    assert PASSWORD not in plan.model_dump_json()
    (change,) = plan.changes
    env_write = next(s for s in change.steps if s.op == "write" and s.path.endswith("/.env"))
    assert env_write.mode == 0o600 and env_write.content == "DB_PASSWORD='(sensitive)'\nMODE='fast'\n"
    assert change.after["services"]["app"]["env"]["DB_PASS"] == "(sensitive)"
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty
    state = sim_state(d)
    assert state["files"]["/etc/converge/stacks/cloud/.env"] == f"DB_PASSWORD='{PASSWORD}'\nMODE='fast'\n"
    containers = state["resources"]["container"]
    assert containers["cloud_db_1"]["spec"]["env"] == {"POSTGRES_PASSWORD": PASSWORD}
    labels = json.dumps([c["info"]["converge_labels"] for c in containers.values()])
    assert PASSWORD not in labels and PASSWORD not in state["files"]["/etc/converge/stacks/cloud/compose.yaml"]


def test_a_changed_secret_recreates_only_the_services_that_use_it(tmp_path):
    d = nas(tmp_path, SECRET_STACK)
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    before = {n: c["info"]["id"] for n, c in sim_state(d)["resources"]["container"].items()}
    path = d / "secrets" / "db"
    path.write_text("a new one\n")
    plan = engine.plan(engine.open_target(str(d)))[0]
    (change,) = plan.changes
    assert change.action is Action.UPDATE and "a new one" not in plan.model_dump_json()
    assert sorted(x.path for x in change.diffs) == ["services.app.definition", "services.db.definition"]
    assert change.steps[-1].argv[-3:] == ["--force-recreate", "app", "db"]
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty
    after = {n: c["info"]["id"] for n, c in sim_state(d)["resources"]["container"].items()}
    assert after["cloud_cache_1"] == before["cloud_cache_1"]
    assert after["cloud_app_1"] != before["cloud_app_1"] and after["cloud_db_1"] != before["cloud_db_1"]


def test_a_missing_secret_fails_the_plan_saying_where_it_was_looked_for(tmp_path):
    d = nas(tmp_path, SECRET_STACK, secret=None)
    with pytest.raises(PlanError, match=r"stack cloud: env DB_PASSWORD: secret file .*secrets/db does not exist"):
        engine.plan(engine.open_target(str(d)))


FILE_STACK = """pools: {tank: {vdevs: [{disks: [/dev/sdb]}]}}
datasets: {tank/media: {}}
stacks:
  media: {file: apps/media.compose.yaml}
"""
COMPOSE_FILE = """services:
  player:
    image: busybox:1
    ports: ["8096:8096"]
    volumes: ["tank/media:/media:ro", "cache:/cache"]
volumes:
  cache: {}
"""


def test_a_compose_file_in_the_directory_is_not_a_manifest_and_its_datasets_come_first(tmp_path):
    d = nas(tmp_path, FILE_STACK, {"apps/media.compose.yaml": COMPOSE_FILE})
    plan = engine.plan(engine.open_target(str(d)))[0]
    order = [str(c.ref) for c in plan.changes]
    assert order == ["pool/tank", "dataset/tank/media", "stack/media"]
    assert [str(r) for r in plan.changes[2].depends_on] == ["dataset/tank/media"]
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty
    written = json.loads(sim_state(d)["files"]["/etc/converge/stacks/media/compose.yaml"])
    assert written["services"]["player"]["volumes"] == ["/tank/media:/media:ro", "cache:/cache"]
    player = sim_state(d)["resources"]["container"]["media_player_1"]
    assert player["spec"]["ports"] == ["8096:8096/tcp"] and player["spec"]["state"] == "running"


def test_one_ps_serves_containers_and_stacks(tmp_path):
    d = nas(tmp_path, FILE_STACK + "containers: {solo: {image: 'busybox:1'}}\n", {"apps/media.compose.yaml": COMPOSE_FILE})
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    target = engine.open_target(str(d))
    plan, _ = engine.plan(target)
    assert plan.empty  # the stack's containers are not read as undeclared containers either
    assert [a for a in target.host.commands if a[:2] == ["podman", "ps"]] == [["podman", "ps", "-a", "--format", "json"]]


@pytest.mark.parametrize("manifest,files,expected", [
    ("stacks: {a: {file: ../x.compose.yaml}}\n", {}, r"main.yaml:1:\d+: stacks.a.file: .*relative path inside"),
    ("stacks: {a: {file: app.yaml}}\n", {}, r"stacks.a.file: .*name the file compose.yaml"),
    ("stacks: {a: {file: gone.compose.yaml}}\n", {}, r"stacks.a.file: gone.compose.yaml: no such file"),
    ("stacks: {a: {file: b.compose.yaml}}\n", {"b.compose.yaml": "services: {w: {build: .}}\n"},
     r"stacks.a.file: b.compose.yaml: services.w.build: build is not supported"),
    ("stacks: {a: {compose: {services: {w: {image: x, volumes: ['./data:/data']}}}}}\n", {},
     r"stacks.a.compose: .*services.w.volumes.0: volume source './data' is relative"),
    ("stacks: {a: {compose: {services: {w: {image: x, network_mode: none}}}}}\n", {},
     r"network_mode none does not work with podman-compose 1.0.3"),
    ("stacks: {a: {file: b.compose.yaml, compose: {services: {w: {image: x}}}}}\n", {"b.compose.yaml": "services: {}\n"},
     r"either file: .* or compose:"),
    ("stacks: {a: {compose: {services: {w: {image: x}}}, env: {P: \"it's\"}}}\n", {}, r"env P: a value may not hold a quote"),
])
def test_bad_stacks_are_refused_with_their_place(tmp_path, manifest, files, expected):
    d = nas(tmp_path, manifest, files)
    with pytest.raises(ManifestError, match=expected):
        engine.plan(engine.open_target(str(d)))
    assert not (d / ".converge" / "sim-host.json").exists() or "stack" not in sim_state(d)["resources"]


def test_pull_newer_recreates_the_services_whose_image_moved_on_in_the_local_store(tmp_path):
    d = nas(tmp_path, "stacks:\n  blog:\n    pull: newer\n    compose: {services: {web: {image: 'busybox:1'}, "
                      "db: {image: 'busybox:1', command: [sleep, '1000']}}}\n")
    assert engine.reconcile(engine.open_target(str(d))).report.ok
    assert engine.plan(engine.open_target(str(d)))[0].empty  # nothing moved: nothing to do
    state = sim_state(d)
    before = {n: c["info"]["id"] for n, c in state["resources"]["container"].items()}
    state["sim"].setdefault("image_digests", {})["docker.io/library/busybox:1"] = "sha256:" + "b" * 64  # pulled since
    (d / ".converge" / "sim-host.json").write_text(json.dumps(state))
    (change,) = engine.plan(engine.open_target(str(d)))[0].changes
    diffs = {x.path: (x.before_text, x.after_text) for x in change.diffs}
    assert sorted(diffs) == ["services.db.image", "services.web.image"]
    assert diffs["services.web.image"][0].startswith("docker.io/library/busybox:1@sha256:")
    base = ["podman-compose", "-p", "blog", "-f", "/etc/converge/stacks/blog/compose.yaml"]
    assert [s.argv for s in change.steps if s.op == "run"] == [
        [*base, "pull", "db", "web"], [*base, "up", "-d", "--force-recreate", "db", "web"]]
    outcome = engine.reconcile(engine.open_target(str(d)))
    assert outcome.report.ok and outcome.replan.empty
    after = {n: c["info"]["id"] for n, c in sim_state(d)["resources"]["container"].items()}
    assert all(after[n] != before[n] for n in before)


def test_a_failed_step_that_echoes_a_secret_has_it_blanked_out_of_the_report(monkeypatch):
    """podman-compose prints each `podman run … -e NAME=value` on stdout; a failure shows stdout."""
    import sys

    from converge import secrets
    from converge.executor import execute
    from converge.hosts import LocalHost
    from converge.model import Change, Plan, Ref, Step

    monkeypatch.setenv("CVT_STACK_TOKEN", "hunter2-secret")
    step = Step(argv=[sys.executable, "-c", "print('podman run -e TOKEN=hunter2-secret app'); raise SystemExit(1)"],
                secret=secrets.join_sources(["env:CVT_STACK_TOKEN"]))
    report = execute(Plan(changes=[Change(ref=Ref(kind="stack", name="x"), action=Action.UPDATE, steps=[step])]),
                     LocalHost())
    (failure,) = report.failed
    assert "hunter2" not in failure.error and "TOKEN=(sensitive)" in failure.error


def test_a_host_port_a_container_or_another_service_publishes_is_refused(tmp_path):
    d = nas(tmp_path, "containers: {web: {image: 'busybox:1', ports: ['8080:80']}}\n"
                      "stacks:\n  a: {compose: {services: {x: {image: 'busybox:1', ports: ['8080:81']},"
                      " y: {image: 'busybox:1', ports: ['9000:9000']}}}}\n"
                      "  b: {compose: {services: {z: {image: 'busybox:1', ports: ['9000:90/tcp', '9000:90/udp']}}}}\n")
    with pytest.raises(ManifestError) as e:
        engine.plan(engine.open_target(str(d)))
    text = str(e.value)
    assert "stacks.a.compose.services.x.ports.0: host port 8080/tcp is already used by container 'web'" in text
    assert "stacks.b.compose.services.z.ports.0: host port 9000/tcp is already used by stack 'a' service 'y'" in text
    assert "9000/udp" not in text
