"""The API over a git-tracked copy of examples/homelab: edits, plans, actions, errors, jobs."""

from __future__ import annotations

import json
import threading
import time

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import api_client, git


def test_the_newcomer_story(client, homelab):
    """Create a dataset, share it over SMB, stop a container: three commits, comments intact, a plan of
    exactly those changes, and an apply that converges the simulated host."""
    r = client.post("/api/v1/datasets", json={"name": "tank/photos", "properties": {"quota": "500G"}})
    assert r.status_code == 201 and r.json()["file"] == "storage.yaml" and r.json()["commit"]
    assert client.post("/api/v1/shares/smb", json={"name": "photos", "path": "tank/photos"}).status_code == 201
    assert client.post("/api/v1/containers/jellyfin/stop").status_code == 200
    log = git(homelab, "log", "--format=%an|%s")
    assert log.splitlines()[:3] == ["admin|api: stop container jellyfin", "admin|api: create smb photos",
                                    "admin|api: create dataset tank/photos"]
    diff = git(homelab, "diff", "HEAD~3", "--stat")
    assert "3 files changed, 6 insertions(+)" in diff  # nothing else moved
    assert "# Storage: one mirrored pool" in (homelab / "storage.yaml").read_text()
    job = client.post("/api/v1/apply").json()
    for _ in range(100):
        status = client.get(f"/api/v1/jobs/{job['id']}").json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert status["status"] == "done", status
    assert client.get("/api/v1/plan").json()["changes"] == []
    one = client.get("/api/v1/datasets/tank/photos")
    assert one.json()["actual"]["properties"]["quota"] == 500 << 30 and one.json()["drift"] == []
    assert one.headers["etag"] == one.json()["etag"]


def test_plan_shows_exactly_the_edit(client):
    client.post("/api/v1/apply")
    time.sleep(1)
    client.patch("/api/v1/datasets/tank/media", json={"properties": {"quota": "3T"}})
    changes = client.get("/api/v1/plan").json()["changes"]
    assert [(c["action"], c["ref"]["name"], [d["path"] for d in c["diffs"]]) for c in changes] == [
        ("~", "tank/media", ["properties.quota"])]


def test_errors_have_one_shape(client, homelab):
    r = client.post("/api/v1/datasets", json={"name": "tank/x", "properties": {"quota": "2X"}})
    assert r.status_code == 422
    [detail] = r.json()["error"]["details"]
    assert detail["path"] == "datasets.tank/x.properties.quota" and detail["line"] > 0
    assert "tank/x" not in (homelab / "storage.yaml").read_text()  # nothing written
    assert client.post("/api/v1/datasets", json={"name": "tank/media"}).status_code == 409
    assert client.get("/api/v1/datasets/tank/nope").status_code == 404
    assert client.post("/api/v1/datasets", content=b"{nope",
                       headers={"Content-Type": "application/json"}).json()["error"]["code"] == "bad_request"
    assert client.post("/api/v1/datasets", json={"name": "tank/a;rm"}).status_code == 422
    # a JSON value of another type than the schema's is refused, not coerced (0 is not false)
    wrong = client.post("/api/v1/services", json={"name": "rsync", "enabled": 0})
    assert wrong.status_code == 422 and "valid boolean" in wrong.text
    assert "rsync" not in (homelab / "system.yaml").read_text()
    etag = client.get("/api/v1/datasets/tank/media").headers["etag"]
    assert client.patch("/api/v1/datasets/tank/media", json={"properties": {"quota": "3T"}},
                        headers={"If-Match": '"stale"'}).status_code == 412
    assert client.patch("/api/v1/datasets/tank/media", json={"properties": {"quota": "3T"}},
                        headers={"If-Match": etag}).status_code == 200
    for r in (client.get("/api/v1/nothing"), client.get("/api/v1/manifests/..%2F..%2Fetc%2Fpasswd")):
        assert r.status_code in (400, 404) and set(r.json()["error"]) == {"code", "message", "details"}


def test_templates_are_read_only(client, homelab):
    (homelab / "extra.yaml.j2").write_text("datasets:\n  tank/{{ 'tmpl' }}: {}\n")
    r = client.patch("/api/v1/datasets/tank/tmpl", json={"properties": {"quota": "1G"}})
    assert r.status_code == 409 and "extra.yaml.j2" in r.json()["error"]["message"]
    assert client.put("/api/v1/manifests/extra.yaml.j2", content=b"datasets: {}\n").status_code == 409


def test_manifests_get_put_with_etag(client, homelab):
    r = client.get("/api/v1/manifests/network.yaml")
    assert r.status_code == 200 and r.text == (homelab / "network.yaml").read_text()
    new = r.text.replace("mtu: 1500", "mtu: 9000")
    assert client.put("/api/v1/manifests/network.yaml", content=new.encode(),
                      headers={"If-Match": '"old"'}).status_code == 412
    assert client.put("/api/v1/manifests/network.yaml", content=new.encode(),
                      headers={"If-Match": r.headers["etag"]}).status_code == 200
    bad = new.replace("mtu: 9000", "mtu: 9")
    assert client.put("/api/v1/manifests/network.yaml", content=bad.encode()).status_code == 422
    assert "mtu: 9000" in (homelab / "network.yaml").read_text()


def test_actions_are_manifest_edits(client, homelab):
    assert client.post("/api/v1/datasets/tank/media/snapshots", json={"name": "before"}).status_code == 201
    assert "tank/media@before: {}" in (homelab / "storage.yaml").read_text()
    assert client.post("/api/v1/snapshots/tank/media@before/rollback").status_code == 200
    text = (homelab / "storage.yaml").read_text()
    assert "rollback_to: before" in text and "rollback_requested:" in text
    assert client.post("/api/v1/pools/tank/scrub").status_code == 200
    assert "scrub_requested:" in (homelab / "storage.yaml").read_text()
    assert client.post("/api/v1/containers/jellyfin/restart").status_code == 200
    assert "restart_requested:" in (homelab / "apps.yaml").read_text()
    assert client.post("/api/v1/containers/nope/start").status_code == 404


def test_fifty_parallel_edits_all_land(homelab, admin_token):
    app = create_app(str(homelab), write_burst=100)
    errors = []

    def create(i):
        with api_client(app, admin_token) as c:
            r = c.post("/api/v1/datasets", json={"name": f"tank/p{i}", "properties": {"quota": f"{i + 1}G"}})
            if r.status_code != 201:
                errors.append(r.json())

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    text = (homelab / "storage.yaml").read_text()
    assert all(f"tank/p{i}:" in text for i in range(50))
    assert len(git(homelab, "log", "--format=%s").splitlines()) == 51


def test_openapi_and_docs(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/api/v1/datasets/{name}" in doc["paths"]
    assert "DatasetSpec" in doc["components"]["schemas"]
    assert "/api/v1/containers/{name}/stop" in client.get("/docs").text


def test_events_stream_edits(client):
    client.post("/api/v1/datasets", json={"name": "tank/ev", "properties": {}})
    r = client.get("/api/v1/events?since=0&timeout=0.2")
    assert r.status_code == 200 and "event: edit" in r.text and "api: create dataset tank/ev" in r.text


def test_facts_mask_container_env_as_the_plan_does(client, homelab):
    from converge import engine

    engine.reconcile(engine.open_target(str(homelab)))
    viewer = create_token(str(homelab), "bob", "viewer")
    facts = client.get("/api/v1/facts", headers={"Authorization": f"Bearer {viewer}"}).json()
    syncthing = facts["resources"]["container"]["syncthing"]["spec"]
    assert syncthing["env"] == {"PUID": "(sensitive)", "PGID": "(sensitive)"} and syncthing["image"]
    assert "1000" not in json.dumps(facts["resources"]["container"])
    (homelab / "apps.yaml").write_text((homelab / "apps.yaml").read_text().replace('PUID: "1000"', 'PUID: "1001"'))
    [change] = client.get("/api/v1/plan").json()["changes"]
    assert change["after"]["env"] == syncthing["env"]  # the same mask


def test_stop_with_timeout_or_force_writes_a_stop_request(client, homelab):
    """The body's parameters become a request stamp beside state: stopped; bad ones are refused."""
    r = client.post("/api/v1/containers/jellyfin/stop", json={"force": True})
    assert r.status_code == 200, r.text
    declared = client.get("/api/v1/containers/jellyfin").json()["desired"]
    assert declared["state"] == "stopped" and declared["stop_requested"]["force"] is True
    assert "      force: true\n" in (homelab / "apps.yaml").read_text()
    assert declared["stop_requested"]["at"].endswith("Z")
    bad = client.post("/api/v1/containers/jellyfin/stop", json={"timeout": -1})
    assert bad.status_code == 422 and "timeout" in bad.text
    odd = client.post("/api/v1/containers/jellyfin/stop", json={"kill": True})
    assert odd.status_code == 422


def test_container_networks_collection(client, homelab):
    r = client.post("/api/v1/container_networks", json={"name": "lan", "driver": "macvlan", "parent": "eth0",
                                                        "subnet": "192.168.5.0/24"})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/container_networks/lan").json()["desired"]["driver"] == "macvlan"
    bad = client.post("/api/v1/container_networks", json={"name": "flat", "parent": "eth0"})
    assert bad.status_code == 422 and "parent is for macvlan and ipvlan" in bad.text
