"""GET /api/v1/fleet/plan and POST /api/v1/fleet/apply: every host of the inventory at once,
one row per host, a failing host a row of its own."""

from __future__ import annotations

import time

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import api_client


def with_fleet(homelab, unreachable: bool = True) -> None:
    """Two simulated hosts (each its own state file) and, optionally, one nobody answers for."""
    config = homelab / "converge.yaml"
    text = config.read_text() if config.exists() else ""
    down = '  nas2: {address: "ssh://root@127.0.0.1:1"}\n' if unreachable else ""
    config.write_text(text + f"""
hosts:
  backup: {{address: "sim:.converge/backup.json", tags: [offsite]}}
  media: {{address: "sim:.converge/media.json"}}
{down}""")


def finished(client, job_id: str, within: float = 120.0) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {within} s")


def test_fleet_plan_has_a_row_per_host_and_the_unreachable_one_fails_alone(client, homelab):
    with_fleet(homelab)
    answer = client.get("/api/v1/fleet/plan").json()
    rows = {r["name"]: r for r in answer["hosts"]}
    assert list(rows) == ["backup", "media", "nas2"] and answer["total"] == 3 and answer["failed"] == 1
    assert rows["backup"]["ok"] and rows["backup"]["changes"] > 0 and rows["backup"]["plan"]["inventory_host"] == "backup"
    assert rows["backup"]["result"] == f"{rows['backup']['changes']} to change" and answer["with_changes"] == 2
    assert not rows["nas2"]["ok"] and "cannot reach ssh://root@127.0.0.1:1" in rows["nas2"]["result"]
    only = client.get("/api/v1/fleet/plan", params={"limit": "offsite"}).json()
    assert [r["name"] for r in only["hosts"]] == ["backup"]


def test_fleet_apply_converges_each_host_then_nothing_is_left_to_change(client, homelab):
    with_fleet(homelab)
    started = client.post("/api/v1/fleet/apply", params={"forks": 3})
    assert started.status_code == 202 and started.headers["location"] == f"/api/v1/jobs/{started.json()['id']}"
    job = finished(client, started.json()["id"])
    rows = {r["name"]: r for r in job["report"]["hosts"]}
    assert job["status"] == "failed" and job["report"]["failed"] == 1, "one host down fails the job, not the others"
    assert rows["backup"]["ok"] and rows["backup"]["result"].startswith("converged (")
    assert rows["media"]["ok"] and not rows["nas2"]["ok"]
    again = client.get("/api/v1/fleet/plan", params={"limit": "backup,media"}).json()
    assert [(r["name"], r["result"], r["changes"]) for r in again["hosts"]] == [
        ("backup", "no changes", 0), ("media", "no changes", 0)]
    assert (homelab / ".converge/backup.json").exists() and (homelab / ".converge/media.json").exists()


def test_roles_and_bad_options(homelab):
    with_fleet(homelab, unreachable=False)
    viewer = api_client(create_app(str(homelab)), create_token(str(homelab), "v", "viewer"))
    operator = api_client(create_app(str(homelab)), create_token(str(homelab), "o", "operator"))
    assert viewer.get("/api/v1/fleet/plan", params={"limit": "media"}).status_code == 200
    assert viewer.post("/api/v1/fleet/apply").status_code == 403
    job = finished(operator, operator.post("/api/v1/fleet/apply", params={"limit": "media"}).json()["id"])
    assert job["status"] == "done" and job["by"] == "o" and [r["name"] for r in job["report"]["hosts"]] == ["media"]
    assert operator.get("/api/v1/fleet/plan", params={"limit": "nope"}).status_code == 404
    for bad in ({"forks": "0"}, {"forks": "x"}, {"hosts": "media"}):
        answer = operator.get("/api/v1/fleet/plan", params=bad)
        assert answer.status_code == 400, bad
    assert "unknown query parameter 'hosts'" in answer.json()["error"]["message"]


def test_without_an_inventory_it_says_where_to_declare_hosts(client, homelab):
    answer = client.get("/api/v1/fleet/plan")
    assert answer.status_code == 409 and "has no hosts: declare them under `hosts:`" in answer.json()["error"]["message"]
