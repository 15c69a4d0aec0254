"""Bearer tokens with roles, stored hashed; 401/403; rate limits with Retry-After."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token, tokens_path


def test_auth_matrix(homelab):
    admin = create_token(str(homelab), "alice", "admin")
    viewer = create_token(str(homelab), "bob", "viewer")
    stored = json.loads(open(tokens_path(str(homelab))).read())
    assert admin not in json.dumps(stored) and stored["alice"]["role"] == "admin"  # only a hash is kept
    c = TestClient(create_app(str(homelab)))
    body = {"name": "tank/t", "properties": {}}
    assert c.get("/api/v1/datasets").status_code == 401
    assert c.get("/api/v1/datasets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/v1/datasets", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    assert c.post("/api/v1/datasets", json=body, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    r = c.post("/api/v1/datasets", json=body, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 201
    from .conftest import git

    assert git(homelab, "log", "-1", "--format=%an") == "alice\n"  # the token's name is the author


def test_failed_logins_and_writes_are_rate_limited(homelab):
    create_token(str(homelab), "alice", "admin")
    c = TestClient(create_app(str(homelab)))
    codes = [c.get("/api/v1/plan", headers={"Authorization": "Bearer nope"}).status_code for _ in range(15)]
    assert 429 in codes
    limited = [r for r in (c.get("/api/v1/plan", headers={"Authorization": "Bearer nope"}),) if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    c2 = TestClient(create_app(str(homelab), write_rate=0.01, write_burst=2))
    statuses = [c2.post("/api/v1/apply").status_code for _ in range(4)]
    assert statuses[-1] == 429
