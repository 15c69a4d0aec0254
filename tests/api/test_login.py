"""POST /auth/login, /auth/refresh, /auth/logout, GET /auth/me, and the long-lived tokens'
routes: login -> token -> write -> logout -> refused; expired tokens refused (the clock is
injected, nothing sleeps); failed logins limited per account and per client; a wrong name and a
wrong password look and cost the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from argon2 import PasswordHasher

from converge.api import apiusers, create_app
from converge.api.auth import create_token

from .conftest import api_client, git
from .test_serve import free_port, wait_listening

PASSWORD = "correct horse battery"
DATASET = {"name": "tank/fromlogin", "properties": {}}


@pytest.fixture
def app(homelab, clock):
    create_token(str(homelab), "admin", "admin")  # a store exists: no anonymous reads
    for name, role in (("alice", "admin"), ("olga", "operator"), ("vic", "viewer")):
        apiusers.add(str(homelab), name, role, PASSWORD)
    return create_app(str(homelab), clock=clock)


def login(c, name="alice", password=PASSWORD):
    return c.post("/api/v1/auth/login", json={"username": name, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_token_write_logout_refused(homelab, app):
    c = api_client(app)
    r = login(c)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    answer = r.json()
    assert set(answer) == {"access_token", "refresh_token", "token_type", "expires_in", "role", "username"}
    assert (answer["token_type"], answer["expires_in"], answer["role"], answer["username"]) == \
        ("bearer", 15 * 60, "admin", "alice")
    access = bearer(answer["access_token"])
    assert c.get("/api/v1/auth/me", headers=access).json() == {"name": "alice", "role": "admin",
                                                               "expires": "2027-01-15T08:15:00Z"}
    assert c.post("/api/v1/datasets", json=DATASET, headers=access).status_code == 201
    assert git(homelab, "log", "-1", "--format=%an") == "alice\n"  # the account is the author
    assert c.post("/api/v1/auth/logout", headers=access).status_code == 204
    r = c.get("/api/v1/auth/me", headers=access)
    assert r.status_code == 401 and r.json()["error"]["message"] == "the bearer token is not valid"
    assert c.post("/api/v1/datasets", json={**DATASET, "name": "tank/again"}, headers=access).status_code == 401
    r = c.post("/api/v1/auth/refresh", json={"refresh_token": answer["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"  # revoked with it


def test_an_expired_access_token_is_refused_and_a_refresh_rotates_the_pair(app, clock):
    c = api_client(app)
    first = login(c, "olga").json()
    clock.now += 15 * 60  # exactly its lifetime
    r = c.get("/api/v1/plan", headers=bearer(first["access_token"]))
    assert r.status_code == 401 and r.json()["error"] == {
        "code": "token_expired", "message": "the access token expired; get a new one with POST /api/v1/auth/refresh",
        "details": []}
    r = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["role"] == "operator" and second["username"] == "olga"
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert c.get("/api/v1/auth/me", headers=bearer(second["access_token"])).json()["role"] == "operator"
    # the old refresh token coming back means a copy leaked: the session ends, the new pair too
    assert c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    assert c.get("/api/v1/auth/me", headers=bearer(second["access_token"])).status_code == 401


def test_a_refresh_token_expires_after_its_days(app, clock):
    c = api_client(app)
    pair = login(c, "vic").json()
    clock.now += 7 * 86400
    assert c.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_an_expired_long_lived_token_is_refused_with_a_clear_message(homelab, app, clock):
    token = create_token(str(homelab), "ci", "viewer", lifetime=3600, now=clock.now)
    c = api_client(app, token)
    assert c.get("/api/v1/auth/me").json() == {"name": "ci", "role": "viewer", "expires": "2027-01-15T09:00:00Z"}
    clock.now += 3600
    r = c.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_expired"
    assert r.json()["error"]["message"].startswith("the token 'ci' expired at 2027-01-15T09:00:00Z")


def test_a_wrong_name_and_a_wrong_password_look_and_cost_the_same(app, monkeypatch):
    verifies: list[str] = []
    real = PasswordHasher.verify

    def counting(self, hash, password):  # argon2's own verify, counted
        verifies.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    c = api_client(app)
    answers = []
    for name in ("nobody", "alice"):
        verifies.clear()
        r = login(c, name, "wrong password")
        answers.append((r.status_code, r.json(), dict(r.headers)))
        assert len(verifies) == 1 and verifies[0].startswith("$argon2id$")  # one argon2 verify either way
    assert answers[0][:2] == answers[1][:2] == (401, {"error": {"code": "invalid_credentials",
                                                                  "message": "wrong username or password",
                                                                  "details": []}})
    assert answers[0][2].keys() == answers[1][2].keys()


def test_failed_logins_are_limited_per_account(homelab):
    apiusers.add(str(homelab), "alice", "admin", PASSWORD)
    c = api_client(create_app(str(homelab)))
    codes = [login(c, "alice", "guess").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]  # five at once per account (the default), then one each 12 s
    r = login(c, "alice")  # even the right password waits: the account's budget is spent
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert login(c, "bob", "guess").status_code == 401  # another account has its own budget


def test_failed_logins_are_limited_per_client_address(homelab):
    """Guessing across many names from one address: the client's budget (logins_per_minute) ends it."""
    with open(homelab / "converge.yaml", "a") as f:
        f.write("api:\n  rate_limits: {logins_per_minute: 6}\n")  # bursts of one, then one each 10 s
    c = api_client(create_app(str(homelab)))
    r1, r2 = login(c, "user1", "guess"), login(c, "user2", "guess")
    assert (r1.status_code, r2.status_code) == (401, 429)
    assert r2.json()["error"]["message"] == "too many failed logins; wait before trying again"
    assert 1 <= int(r2.headers["retry-after"]) <= 11


def test_a_successful_login_gives_its_share_back(homelab):
    apiusers.add(str(homelab), "alice", "admin", PASSWORD)
    c = api_client(create_app(str(homelab)))
    assert [login(c).status_code for _ in range(8)] == [200] * 8


def test_login_bodies_are_checked(app):
    c = api_client(app)
    for body in ({"username": "alice"}, {"username": "alice", "password": 1}, [1],
                 {"username": "alice", "password": PASSWORD, "extra": 1}, {"username": "../x", "password": "p"}):
        assert c.post("/api/v1/auth/login", json=body).status_code == 422, body
    assert c.post("/api/v1/auth/login", content=b'{"username":"a","password":"b"}').status_code == 415


def test_tokens_are_listed_and_revoked_by_an_admin_only(homelab, app, clock):
    admin = create_token(str(homelab), "root2", "admin")
    ci = create_token(str(homelab), "ci", "viewer", lifetime=86400, now=clock.now)
    c = api_client(app, admin)
    assert api_client(app, ci).get("/api/v1/auth/me").status_code == 200
    items = c.get("/api/v1/tokens").json()["items"]
    assert [i["name"] for i in items] == ["admin", "ci", "root2"]
    listed = next(i for i in items if i["name"] == "ci")
    assert listed["role"] == "viewer" and listed["expires"] and listed["last_used"] and listed["created"]
    assert not any(ci in str(i) or admin in str(i) for i in items) and "hash" not in listed
    assert api_client(app, ci).get("/api/v1/tokens").status_code == 403
    assert api_client(app, ci).delete("/api/v1/tokens/ci").status_code == 403
    assert c.delete("/api/v1/tokens/ci").status_code == 204
    assert api_client(app, ci).get("/api/v1/auth/me").status_code == 401  # refused from its next request
    assert c.delete("/api/v1/tokens/ci").status_code == 404
    r = c.delete("/api/v1/tokens/root2")
    assert r.status_code == 409 and r.json()["error"]["code"] == "own_token"


def test_logout_with_a_long_lived_token_says_how_to_revoke_it(homelab, app):
    c = api_client(app, create_token(str(homelab), "ci", "viewer"))
    r = c.post("/api/v1/auth/logout")
    assert r.status_code == 409 and "converge token revoke ci" in r.json()["error"]["message"]
    assert c.get("/api/v1/auth/me").status_code == 200


def test_removing_an_account_refuses_its_tokens(homelab, app):
    c = api_client(app)
    pair = login(c, "vic").json()
    apiusers.remove(str(homelab), "vic")
    assert c.get("/api/v1/auth/me", headers=bearer(pair["access_token"])).status_code == 401
    assert c.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


@pytest.mark.real
def test_login_against_a_live_server_and_no_secret_in_its_log_or_store(homelab, tmp_path):
    """`converge serve` on a loopback port: an operator logs in, stops a container, cannot create a
    dataset, logs out and is refused; no token or password is in the log, the store or git."""
    import http.client
    import json

    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    add = subprocess.run([sys.executable, "-m", "converge.cli", "api-user", "add", "olga", "--role", "operator",
                          "-C", str(homelab)], input=PASSWORD + "\n", capture_output=True, text=True, env=env)
    assert add.returncode == 0, add.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "converge.cli", "serve", str(homelab), "--listen",
                                 f"127.0.0.1:{port}"], stdout=out, stderr=out, start_new_session=True)
    try:
        wait_listening(port, proc)

        def call(method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, dict]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            r = conn.getresponse()
            raw = r.read()
            conn.close()
            return r.status, json.loads(raw) if raw else {}

        status, pair = call("POST", "/api/v1/auth/login", {"username": "olga", "password": PASSWORD})
        assert status == 200 and pair["role"] == "operator"
        token = pair["access_token"]
        assert call("POST", "/api/v1/containers/jellyfin/stop", None, token)[0] == 200
        assert call("POST", "/api/v1/datasets", DATASET, token)[0] == 403
        assert call("POST", "/api/v1/auth/logout", None, token)[0] == 204
        assert call("GET", "/api/v1/auth/me", None, token)[0] == 401
        assert call("POST", "/api/v1/containers/jellyfin/start", None, token)[0] == 401
        assert call("POST", "/api/v1/auth/login", {"username": "olga", "password": "wrong one"})[0] == 401
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    secrets = [PASSWORD, token, pair["refresh_token"], token.partition(".")[2], pair["refresh_token"].partition(".")[2]]
    texts = {"log": log.read_text(), "git": git(homelab, "log", "-p", "--all")}
    for path in (homelab / ".converge").iterdir():
        if path.is_file():
            texts[path.name] = path.read_text(errors="replace")
    assert "api-users.json" in texts and "sessions.json" in texts
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in {where}"
    assert "olga" in texts["git"]  # the account is the author of the stop


def test_revoking_every_token_does_not_open_anonymous_reads(homelab):
    """Anonymous loopback reads are for a store holding only the first serve's token; an empty
    store (all revoked) is not that: reads need a token again."""
    from converge.api.auth import ensure_store, revoke_token

    ensure_store(str(homelab))
    c = api_client(create_app(str(homelab)), client=("127.0.0.1", 40000))
    assert c.get("/api/v1/plan").status_code == 200
    apiusers.add(str(homelab), "alice", "viewer", PASSWORD)  # an account exists: reads need a login
    assert c.get("/api/v1/plan").status_code == 401
    apiusers.remove(str(homelab), "alice")
    assert c.get("/api/v1/plan").status_code == 200
    revoke_token(str(homelab), "admin")
    assert c.get("/api/v1/plan").status_code == 401
