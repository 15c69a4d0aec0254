"""What a request passes before a handler: Host, Origin, Content-Type, a token for every write,
reads without a token only as before, and a token store that fails closed."""

from __future__ import annotations

import os

import pytest

from converge.api import create_app
from converge.api.auth import create_token, ensure_store, tokens_path

from .conftest import api_client, git

BODY = b'{"name": "tank/evil", "properties": {}}'
EVIL = {"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "text/plain"}


def unchanged(homelab, commits: int, storage: str) -> bool:
    return len(git(homelab, "log", "--format=%H").split()) == commits and (homelab / "storage.yaml").read_text() == storage


def test_what_a_web_page_can_send_blind_changes_nothing(homelab):
    """A text/plain POST with the page's Host and Origin (DNS rebinding), on a served directory."""
    ensure_store(str(homelab))  # what the first `converge serve` does
    c = api_client(create_app(str(homelab)))
    commits, storage = len(git(homelab, "log", "--format=%H").split()), (homelab / "storage.yaml").read_text()
    for url in ("/api/v1/datasets", "/api/v1/containers/jellyfin/start", "/api/v1/snapshots/tank/media@x/rollback?apply=1",
                "/api/v1/apply"):
        for headers in (EVIL, {**EVIL, "Host": "localhost:8470"}, {"Content-Type": "text/plain"}):
            r = c.post(url, content=BODY, headers=headers)
            assert r.status_code in (401, 403, 421), (url, headers, r.status_code)
            assert set(r.json()["error"]) == {"code", "message", "details"}
    assert unchanged(homelab, commits, storage) and c.app.state.service.jobs == {}


def test_each_check_holds_even_with_the_admin_token(homelab, admin_token):
    (homelab / "converge.yaml").write_text((homelab / "converge.yaml").read_text()
                                           + "api:\n  allowed_hosts: [nas.lan]\n")
    c = api_client(create_app(str(homelab)), admin_token)
    commits, storage = len(git(homelab, "log", "--format=%H").split()), (homelab / "storage.yaml").read_text()
    r = c.post("/api/v1/datasets", content=BODY, headers={"Host": "evil.example", "Content-Type": "application/json"})
    assert r.status_code == 421 and r.json()["error"]["code"] == "misdirected"
    assert c.get("/api/v1/datasets", headers={"Host": "evil.example:8470"}).status_code == 421  # reads too
    r = c.post("/api/v1/datasets", content=BODY, headers={"Origin": "http://evil.example",
                                                          "Content-Type": "application/json"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    assert c.post("/api/v1/apply", headers={"Origin": "null"}).status_code == 403
    r = c.post("/api/v1/datasets", content=BODY, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]
    assert unchanged(homelab, commits, storage)
    r = c.post("/api/v1/datasets", content=BODY, headers={"Host": "NAS.lan:8470", "Origin": "http://nas.lan:8470",
                                                          "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201
    assert c.post("/api/v1/apply", headers={"Host": "[::1]:8470", "Origin": "http://localhost:3000"}).status_code == 202
    assert c.get("/api/v1/health", headers={"Authorization": ""}).status_code == 200


def test_reads_without_a_token_only_on_loopback_while_serve_made_the_only_token(homelab):
    ensure_store(str(homelab))
    local = ("127.0.0.1", 40000)
    app = create_app(str(homelab), listen="127.0.0.1:8470")
    c = api_client(app, client=local)
    assert c.get("/api/v1/datasets").status_code == 200
    assert c.post("/api/v1/apply").status_code == 401  # never a write
    assert api_client(app, client=("192.0.2.7", 40000)).get("/api/v1/datasets").status_code == 401  # not a loopback peer
    public = create_app(str(homelab), listen="0.0.0.0:8470")
    assert api_client(public, client=local).get("/api/v1/datasets").status_code == 401
    create_token(str(homelab), "bob", "viewer")  # a token of one's own: reads need a token, as before
    assert c.get("/api/v1/datasets").status_code == 401


@pytest.mark.parametrize("damage", ["missing", "corrupt", "bad entry", "unreadable"])
def test_a_broken_token_store_refuses_everything_and_says_why(homelab, admin_token, damage):
    app = create_app(str(homelab))
    c = api_client(app, admin_token)
    assert c.get("/api/v1/jobs/x").status_code == 404
    path = tokens_path(str(homelab))
    os.unlink(path)
    if damage == "corrupt":
        open(path, "w").write('{"admin": {"role": "adm')
    elif damage == "bad entry":
        open(path, "w").write('{"admin": {"role": "admin"}}')
    elif damage == "unreadable":
        os.mkdir(path)
    why = {"missing": "is missing", "corrupt": "not valid JSON", "bad entry": "corrupt", "unreadable": "cannot be read"}
    anonymous = api_client(app, client=("127.0.0.1", 40000))
    for r in (c.post("/api/v1/datasets", json={"name": "tank/x"}), c.get("/api/v1/datasets"),
              anonymous.post("/api/v1/apply"), anonymous.get("/api/v1/plan")):
        assert r.status_code == 503, r.json()
        assert why[damage] in r.json()["error"]["message"] and r.json()["error"]["code"] == "auth_unavailable"
    assert c.get("/api/v1/health").status_code == 200
    assert "tank/x" not in (homelab / "storage.yaml").read_text()


def test_an_apply_on_the_simulated_host_keeps_its_state_out_of_git(tmp_path):
    import shutil

    from converge import engine

    d = tmp_path / "ci"
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ci"), d)
    engine.reconcile(engine.open_target(str(d)))
    assert (d / ".converge" / "sim-host.json").exists() and (d / ".gitignore").read_text() == ".converge/\n"


def test_serve_refuses_to_start_on_a_corrupt_token_store(homelab):
    from click.testing import CliRunner

    from converge.cli import main

    os.makedirs(homelab / ".converge", exist_ok=True)
    (homelab / ".converge" / "tokens.json").write_text("{")
    from .test_serve import free_port

    result = CliRunner().invoke(main, ["serve", str(homelab), "--listen", f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and "not valid JSON" in result.output and "Traceback" not in result.output
