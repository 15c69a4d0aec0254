"""Users and groups over the API, and POST /users/NAME/password: the secret file is written
(0600, git-ignored), a stamp is committed, and the value is in no answer, event or commit."""

from __future__ import annotations

import json
import os
import stat
import time

from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import git

VALUE = "a fine long passphrase"


def declare_password(homelab):
    path = homelab / "accounts.yaml"
    path.write_text(path.read_text().replace("    # password: {secret: alice}", "    password: {secret: alice}"))
    git(homelab, "commit", "-qam", "alice gets a password")


def test_users_and_groups_are_collections(client):
    users = {u["name"]: u for u in client.get("/api/v1/users").json()["items"]}
    assert users["alice"]["desired"]["groups"] == ["family"] and users["alice"]["file"] == "accounts.yaml"
    assert "root" in users and users["root"]["desired"] is None  # on the host, not declared
    groups = client.get("/api/v1/groups").json()["items"]
    assert "family" in [g["name"] for g in groups]


def test_password_route_writes_the_secret_and_commits_only_a_stamp(homelab):
    admin = create_token(str(homelab), "admin", "admin")
    viewer = create_token(str(homelab), "viewer", "viewer")
    app = create_app(str(homelab))
    c = TestClient(app, base_url="http://localhost:8470")
    auth = {"Authorization": f"Bearer {admin}"}
    r = c.post("/api/v1/users/alice/password", json={"password": VALUE}, headers=auth)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_secret"
    declare_password(homelab)
    assert c.post("/api/v1/users/alice/password", json={"password": VALUE},
                  headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    assert c.post("/api/v1/users/nobody-here/password", json={"password": VALUE}, headers=auth).status_code == 404
    assert c.post("/api/v1/users/alice/password", json={"password": "two\nlines"}, headers=auth).status_code == 422
    r = c.post("/api/v1/users/alice/password", json={"password": VALUE}, headers=auth)
    assert r.status_code == 200, r.text
    secret = homelab / "secrets" / "alice"
    assert secret.read_text() == VALUE + "\n" and stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert git(homelab, "log", "-1", "--format=%s %an") == "api: password change for user alice admin\n"
    assert "password_changed:" in git(homelab, "show", "HEAD") and VALUE not in git(homelab, "log", "-p")
    assert "secrets/alice" not in git(homelab, "status", "--porcelain", "--ignored=no")
    events = json.dumps(app.state.service.events.items)
    assert VALUE not in r.text and VALUE not in events and '"event": "password"' in events
    # the next plan creates alice with her password (shown as a reference only)
    plan = c.get("/api/v1/plan", headers=auth)
    assert VALUE not in plan.text and "user" in plan.text
    job = c.post("/api/v1/apply", headers=auth).json()["id"]
    for _ in range(200):
        status = c.get(f"/api/v1/jobs/{job}", headers=auth).json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "done", status
    user = c.get("/api/v1/users/alice", headers=auth).json()
    assert user["drift"] == [] and VALUE not in json.dumps(user)
