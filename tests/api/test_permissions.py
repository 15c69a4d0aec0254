"""Roles: viewer reads; operator also runs actions, plan and apply, but creates, changes and
deletes nothing; admin does everything. The least role is declared per handler (permissions.py)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from converge.api import create_app, permissions
from converge.api.auth import create_token

from .conftest import api_client, git


@pytest.fixture
def tokens(homelab):
    return {role: create_token(str(homelab), f"t-{role}", role) for role in ("admin", "operator", "viewer")}


@pytest.fixture
def app(homelab):
    return create_app(str(homelab))


def test_an_operator_can_stop_a_container_but_cannot_create_a_dataset(homelab, app, tokens):
    operator = api_client(app, tokens["operator"])
    r = operator.post("/api/v1/containers/jellyfin/stop")
    assert r.status_code == 200, r.text
    assert git(homelab, "log", "-1", "--format=%an %s") == "t-operator api: stop container jellyfin\n"
    r = operator.post("/api/v1/datasets", json={"name": "tank/new", "properties": {}})
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "t-operator has role operator: POST /api/v1/datasets needs admin"
    assert "tank/new" not in (homelab / "storage.yaml").read_text()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/containers/jellyfin/start", None),
    ("POST", "/api/v1/containers/jellyfin/restart", None),
    ("POST", "/api/v1/pools/tank/scrub", None),
    ("POST", "/api/v1/datasets/tank/media/snapshots", {"name": "before-upgrade"}),
    ("POST", "/api/v1/apply", None),
    ("GET", "/api/v1/plan", None),
])
def test_what_an_operator_may_do(app, tokens, method, path, body):
    r = api_client(app, tokens["operator"]).request(method, path, json=body)
    assert r.status_code in (200, 201, 202), r.text


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/api/v1/containers/jellyfin", {"runtime": "podman", "image": "x"}),
    ("PATCH", "/api/v1/datasets/tank/media", {"properties": {}}),
    ("DELETE", "/api/v1/datasets/tank/media", None),
    ("POST", "/api/v1/snapshots/tank/media@2026-11-01/rollback", None),  # discards newer data: admin
    ("PUT", "/api/v1/manifests/storage.yaml", None),
    ("POST", "/api/v1/approvals", None),  # declares no role: a write needs admin
    ("GET", "/api/v1/tokens", None),
    ("DELETE", "/api/v1/tokens/t-viewer", None),
])
def test_what_an_operator_may_not_do(homelab, app, tokens, method, path, body):
    before = git(homelab, "rev-parse", "HEAD")
    r = api_client(app, tokens["operator"]).request(method, path, json=body)
    assert r.status_code == 403, r.text
    assert git(homelab, "rev-parse", "HEAD") == before


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/containers/jellyfin/stop"), ("POST", "/api/v1/pools/tank/scrub"), ("POST", "/api/v1/apply"),
    ("POST", "/api/v1/datasets"), ("DELETE", "/api/v1/datasets/tank/media")])
def test_a_viewer_cannot_act(app, tokens, method, path):
    viewer = api_client(app, tokens["viewer"])
    assert viewer.get("/api/v1/containers/jellyfin").status_code == 200
    r = viewer.request(method, path, json={"name": "tank/x"} if path.endswith("datasets") else None)
    assert r.status_code == 403 and "has role viewer" in r.json()["error"]["message"]


def test_admin_does_everything(app, tokens):
    admin = api_client(app, tokens["admin"])
    assert admin.post("/api/v1/datasets", json={"name": "tank/new", "properties": {}}).status_code == 201
    assert admin.post("/api/v1/snapshots/tank/media@2026-11-01/rollback").status_code == 200
    assert admin.get("/api/v1/tokens").status_code == 200


def _request(method: str) -> Request:
    return Request({"type": "http", "method": method, "path": "/x", "headers": [], "query_string": b""})


def test_a_handler_that_declares_nothing_reads_as_viewer_and_writes_as_admin():
    async def handler(request: Request) -> None: ...

    assert permissions.needed(handler, _request("GET")) == "viewer"
    assert permissions.needed(handler, _request("POST")) == "admin"
    assert permissions.needed(permissions.needs("operator")(handler), _request("DELETE")) == "operator"
    assert [permissions.allows(r, "operator") for r in ("anonymous", "viewer", "operator", "admin")] == \
        [False, False, True, True]
    with pytest.raises(ValueError):
        permissions.needs("superuser")
