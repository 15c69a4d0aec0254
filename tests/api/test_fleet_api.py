"""GET /api/v1/hosts (the inventory) and POST /api/v1/hosts/NAME/test (a connection test)."""

from __future__ import annotations

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import api_client


def with_inventory(homelab) -> None:
    config = homelab / "converge.yaml"
    text = config.read_text() if config.exists() else ""
    config.write_text(text + """
hosts:
  backup: {address: "sim:.converge/backup.json", tags: [offsite]}
  nas2: {address: "ssh://root@127.0.0.1:1", manifests: [".", "nas2"]}
host_groups:
  storage: [backup, nas2]
""")


def test_hosts_lists_the_inventory(client, homelab):
    assert client.get("/api/v1/hosts").json() == {"hosts": [], "total": 0}
    with_inventory(homelab)
    answer = client.get("/api/v1/hosts").json()
    assert answer["total"] == 2
    backup, nas2 = answer["hosts"]
    assert backup["name"] == "backup" and backup["tags"] == ["offsite"] and backup["groups"] == ["storage"]
    assert nas2["address"] == "ssh://root@127.0.0.1:1" and nas2["manifests"] == [".", "nas2"]


def test_connection_test_of_a_reachable_and_an_unreachable_host(client, homelab):
    with_inventory(homelab)
    ok = client.post("/api/v1/hosts/backup/test")
    assert ok.status_code == 200 and ok.json()["reachable"] and ok.json()["ok"]
    down = client.post("/api/v1/hosts/nas2/test").json()
    assert not down["reachable"] and not down["ok"] and "cannot reach ssh://root@127.0.0.1:1" in down["error"]
    missing = client.post("/api/v1/hosts/nope/test")
    assert missing.status_code == 404 and "no host 'nope' in the inventory" in missing.json()["error"]["message"]


def test_a_viewer_may_list_but_not_test(homelab, admin_token):
    with_inventory(homelab)
    viewer = api_client(create_app(str(homelab)), create_token(str(homelab), "v", "viewer"))
    assert viewer.get("/api/v1/hosts").status_code == 200
    assert viewer.post("/api/v1/hosts/backup/test").status_code == 403


def test_a_broken_inventory_is_a_located_422(client, homelab):
    (homelab / "converge.yaml").write_text("hosts:\n  a: {address: 'ftp://x'}\n")
    answer = client.get("/api/v1/hosts")
    assert answer.status_code == 422
    assert "converge.yaml:2" in answer.json()["error"]["details"][0]["text"]


def test_plan_of_one_host(client, homelab):
    with_inventory(homelab)
    (homelab / "nas2").mkdir()
    plan = client.get("/api/v1/hosts/backup/plan")
    assert plan.status_code == 200
    assert plan.json()["inventory_host"] == "backup" and plan.json()["changes"]  # the homelab, on an empty host
    down = client.get("/api/v1/hosts/nas2/plan")
    assert down.status_code == 409 and "cannot reach ssh://root@127.0.0.1:1" in down.json()["error"]["message"]
    assert client.get("/api/v1/hosts/nope/plan").status_code == 404


def test_an_inventory_hosts_resources_are_listed_from_its_own_layers(client, homelab):
    """The backup host reads the shared directory plus its own overlay; its actual state is its own."""
    with_inventory(homelab)
    config = homelab / "converge.yaml"
    config.write_text(config.read_text().replace('tags: [offsite]}', 'tags: [offsite], manifests: [".", "hosts/{name}"]}'))
    (homelab / "hosts/backup").mkdir(parents=True)
    (homelab / "hosts/backup/extra.yaml").write_text("datasets:\n  tank/offsite:\n    properties: {compression: zstd}\n")
    listed = client.get("/api/v1/hosts/backup/datasets", params={"sort": "name"}).json()
    names = [i["name"] for i in listed["items"]]
    assert "tank/offsite" in names and "tank/media" in names
    one = client.get("/api/v1/hosts/backup/datasets/tank/offsite")
    assert one.status_code == 200 and one.json()["file"] == "hosts/backup/extra.yaml" and one.json()["actual"] is None
    assert one.json()["drift"] and one.headers["etag"] == one.json()["etag"]
    smb = client.get("/api/v1/hosts/backup/shares/smb").json()
    assert {i["name"] for i in smb["items"]} == {i["name"] for i in client.get("/api/v1/shares/smb").json()["items"]}
    assert client.get("/api/v1/hosts/backup/datasets/tank/nope").status_code == 404
    assert client.get("/api/v1/hosts/nope/datasets").status_code == 404
    assert client.get("/api/v1/hosts/backup/widgets").status_code == 404
    assert client.get("/api/v1/hosts/nas2/datasets").status_code == 409  # nobody answers there
    assert client.post("/api/v1/hosts/backup/datasets", json={"name": "tank/x"}).status_code == 405
