"""The simulated podman/docker refuse what the real ones refuse, in their words."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from converge import engine
from converge.hosts import SimHost


def host(tmp_path):
    h = SimHost(str(tmp_path / "s.json"), seed={"images": ["docker.io/library/app:1"], "paths": ["/srv"]})
    return h


def test_refusals(tmp_path):
    h = host(tmp_path)
    r = h.run(["podman", "create", "--name", "a", "docker.io/library/nope:1"], check=False)
    assert r.returncode == 125 and "nope" in r.stderr
    assert h.run(["podman", "create", "--name", "a", "--publish", "80:80", "docker.io/library/app:1"]).returncode == 0
    r = h.run(["podman", "create", "--name", "a", "docker.io/library/app:1"], check=False)
    assert r.returncode == 125 and "already in use" in r.stderr
    h.run(["podman", "start", "a"])
    h.run(["podman", "create", "--name", "b", "--publish", "80:80", "docker.io/library/app:1"])
    r = h.run(["podman", "start", "b"], check=False)
    assert r.returncode != 0 and "80" in r.stderr  # the host port is taken by a running container
    r = h.run(["podman", "rm", "a"], check=False)
    assert r.returncode != 0  # running: rm refuses without -f
    r = h.run(["podman", "create", "--name", "c", "--volume", "/nope:/x", "docker.io/library/app:1"], check=False)
    assert r.returncode == 125 and "statfs /nope: no such file or directory" in r.stderr


def test_ps_json_has_the_real_shape(tmp_path):
    h = host(tmp_path)
    h.run(["podman", "create", "--name", "a", "--label", "converge.managed=true", "docker.io/library/app:1"])
    [row] = json.loads(h.run(["podman", "ps", "-a", "--format", "json"]).stdout)
    assert row["Names"] == ["a"] and row["Image"] == "docker.io/library/app:1"
    assert row["Labels"]["converge.managed"] == "true" and row["State"] in ("created", "exited")


NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), min_size=1, max_size=4, unique=True)


@settings(max_examples=25, deadline=None)
@given(first=NAMES, second=NAMES, stopped=st.sets(st.integers(0, 3)))
@example(first=["b"], second=["a", "b"], stopped=set())  # a takes b's port: b must move first
@example(first=["a", "a0"], second=["a0", "a"], stopped=set())  # a swap of ports
def test_apply_then_plan_is_empty_for_any_containers_after_any_others(tmp_path_factory, first, second, stopped):
    d = tmp_path_factory.mktemp("c")
    (d / "converge.yaml").write_text(json.dumps({"sim": {"images": ["docker.io/library/app:1"]}}))
    for names in (first, second):
        body = "containers:\n" + "".join(
            f"  {n}: {{image: 'app:1', ports: ['{9000 + i}:80'], state: {'stopped' if i in stopped else 'running'}}}\n"
            for i, n in enumerate(names))
        (d / "main.yaml").write_text(body)
        outcome = engine.reconcile(engine.open_target(str(d)), allow_destroy=set())
        assert outcome.report.ok and outcome.replan.empty
        assert engine.reconcile(engine.open_target(str(d))).report.commands == 0
