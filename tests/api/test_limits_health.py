"""Rate-limit headers and budgets from converge.yaml; /health with its reasons; /ready."""

from __future__ import annotations

import json
import time

import pytest

from converge import engine
from converge.api import create_app
from converge.api.auth import create_token
from converge.errors import ManifestError

from .conftest import api_client


def limited(homelab, token, **limits):
    with open(homelab / "converge.yaml", "a") as f:
        f.write("api:\n  rate_limits: " + json.dumps(limits) + "\n")
    return api_client(create_app(str(homelab)), token)


def test_reads_are_limited_with_headers_from_converge_yaml(homelab, admin_token):
    c = limited(homelab, admin_token, reads_per_minute=12)  # bursts of 2
    first = c.get("/api/v1/jobs/none")
    assert first.status_code == 404
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert int(first.headers["x-ratelimit-reset"]) >= 1
    c.get("/api/v1/jobs/none")
    third = c.get("/api/v1/jobs/none")
    assert third.status_code == 429 and third.headers["x-ratelimit-remaining"] == "0"
    assert int(third.headers["retry-after"]) >= 1
    assert c.get("/api/v1/health").status_code == 200  # public: not limited
    assert "x-ratelimit-limit" not in c.get("/api/v1/health").headers


def test_writes_have_their_own_budget(homelab, admin_token):
    c = limited(homelab, admin_token, writes_per_minute=6, reads_per_minute=600)  # one write a burst
    assert c.post("/api/v1/containers/jellyfin/stop").headers["x-ratelimit-limit"] == "1"
    assert c.post("/api/v1/containers/jellyfin/start").status_code == 429
    assert c.get("/api/v1/datasets").status_code == 200  # reads are not spent by writes


def test_a_bad_rate_limit_setting_is_a_clear_error(homelab, admin_token):
    (homelab / "converge.yaml").write_text("api:\n  rate_limits: {reads_per_minute: 0}\n")
    with pytest.raises(ManifestError) as e:
        create_app(str(homelab))
    [issue] = e.value.issues
    assert issue.path == "api.rate_limits.reads_per_minute" and issue.line == 2


def test_health_says_why(client, homelab):
    body = client.get("/api/v1/health").json()
    assert body["status"] == "degraded" and body["host"] == {"reachable": True} and body["drift"] > 0
    assert any("change(s)" in r for r in body["reasons"]) and body["last_apply"] is None
    assert client.get("/api/v1/ready").json() == {"ready": True, "status": "degraded"}
    engine.reconcile(engine.open_target(str(homelab)))
    fresh = api_client(create_app(str(homelab)))  # a new app: no cached answer
    body = fresh.get("/api/v1/health").json()
    assert body == {"status": "ok", "reasons": [], "host": {"reachable": True}, "last_apply": None, "drift": 0,
                    "held": 0}


def test_health_is_down_when_the_manifests_cannot_be_read(homelab):
    (homelab / "storage.yaml").write_text("pools: [unclosed\n")
    c = api_client(create_app(str(homelab)))
    r = c.get("/api/v1/health")
    assert r.status_code == 503 and r.json()["status"] == "down" and r.json()["host"] == {"reachable": False}
    assert c.get("/api/v1/ready").status_code == 503


def test_health_reports_the_last_apply_and_held_destroys(client, homelab):
    import time

    job = client.post("/api/v1/apply").json()
    for _ in range(100):
        if client.get(f"/api/v1/jobs/{job['id']}").json()["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    text = (homelab / "storage.yaml").read_text()
    (homelab / "storage.yaml").write_text(text.replace("  tank/media/movies: {}\n", ""))
    body = api_client(create_app(str(homelab))).get("/api/v1/health").json()  # new app: no last apply
    assert body["held"] == 1 and body["status"] == "degraded"
    client.app.state.health.at = 0  # the cached answer is old now
    body = client.get("/api/v1/health").json()
    assert body["last_apply"]["result"] == "done" and body["last_apply"]["job"] == job["id"]


def test_health_names_who_started_the_last_apply(homelab):
    ops = create_token(str(homelab), "night-ops", "operator")
    c = api_client(create_app(str(homelab)), ops)
    job = c.post("/api/v1/apply").json()
    assert job["by"] == "night-ops"
    for _ in range(200):
        if c.get(f"/api/v1/jobs/{job['id']}").json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    last = c.get("/api/v1/health").json()["last_apply"]
    assert last["by"] == "night-ops" and last["job"] == job["id"] and last["result"] in ("done", "failed")
