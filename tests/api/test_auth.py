"""Bearer tokens with roles, stored hashed; 401/403; rate limits with Retry-After; the token check
costs the same work whatever the token, off the event loop, cached once verified."""

from __future__ import annotations

import asyncio
import json

from converge.api import auth, create_app
from converge.api.auth import create_token, ensure_store, read_tokens, tokens_path

from .conftest import api_client, git


def test_auth_matrix(homelab):
    admin = create_token(str(homelab), "alice", "admin")
    viewer = create_token(str(homelab), "bob", "viewer")
    stored = json.loads(open(tokens_path(str(homelab))).read())
    assert admin not in json.dumps(stored) and stored["alice"]["role"] == "admin"  # only a hash is kept
    app = create_app(str(homelab))
    c = api_client(app)
    body = {"name": "tank/t", "properties": {}}
    assert c.get("/api/v1/datasets").status_code == 401
    assert c.get("/api/v1/datasets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/v1/datasets", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    assert c.post("/api/v1/datasets", json=body, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    r = c.post("/api/v1/datasets", json=body, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 201
    assert git(homelab, "log", "-1", "--format=%an") == "alice\n"  # the token's name is the author
    assert c.get("/api/v1/health").json()["status"] == "degraded"  # public (the example is not applied yet)


def test_failed_logins_and_writes_are_rate_limited(homelab, admin_token):
    c = api_client(create_app(str(homelab)))
    codes = [c.get("/api/v1/plan", headers={"Authorization": "Bearer nope"}).status_code for _ in range(15)]
    assert 429 in codes
    limited = [r for r in (c.get("/api/v1/plan", headers={"Authorization": "Bearer nope"}),) if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    c2 = api_client(create_app(str(homelab), write_rate=0.01, write_burst=2), admin_token)
    statuses = [c2.post("/api/v1/apply").status_code for _ in range(4)]
    assert statuses[-1] == 429


def test_requests_without_a_valid_token_do_not_spend_the_admins_write_budget(homelab, admin_token):
    """Same client address (loopback): a stranger's requests without a token, and with wrong ones, are
    limited on their own buckets; the admin's token, verified before, keeps its whole write budget."""
    app = create_app(str(homelab), write_rate=0.01, write_burst=3)
    admin = api_client(app, admin_token)
    assert admin.post("/api/v1/apply").status_code == 202
    stranger = api_client(app)
    for headers in ({}, {"Authorization": "Bearer cvg_guessing"}):
        codes = [stranger.post("/api/v1/apply", headers=headers).status_code for _ in range(130)]  # past the default burst (100)
        assert set(codes) == {401, 429}
    assert [admin.post("/api/v1/apply").status_code for _ in range(2)] == [202, 202]


def test_every_token_check_hashes_exactly_once_and_off_the_event_loop(homelab, monkeypatch):
    token = create_token(str(homelab), "alice", "admin")
    calls: list[bool] = []
    real_hash = auth._hash

    def counting(token: str, salt: bytes) -> str:
        try:
            asyncio.get_running_loop()
            calls.append(True)  # on the event loop: every other request would wait for it
        except RuntimeError:
            calls.append(False)
        return real_hash(token, salt)

    monkeypatch.setattr(auth, "_hash", counting)
    tokens = read_tokens(str(homelab))
    same_prefix, other_prefix = token[:8] + "x" * 20, "cvg_zzzz" + "x" * 20
    assert token[:8] != other_prefix[:8]
    for attempt, expected in ((same_prefix, None), (other_prefix, None), ("", None), (token, ("alice", "admin"))):
        calls.clear()
        assert auth.check_token(tokens, attempt) == expected
        assert len(calls) == 1, attempt  # the same work whether or not the stored prefix matches

    c = api_client(create_app(str(homelab)))
    calls.clear()
    for attempt in (same_prefix, other_prefix):
        assert c.get("/api/v1/jobs/x", headers={"Authorization": f"Bearer {attempt}"}).status_code == 401
    assert calls == [False, False]  # hashed in a worker thread
    calls.clear()
    for _ in range(3):
        assert c.get("/api/v1/jobs/x", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert calls == [False]  # verified once, then answered from the cache
    create_token(str(homelab), "alice", "admin")  # replaced: the cached old token no longer counts
    assert c.get("/api/v1/jobs/x", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_first_serve_creates_one_admin_token_and_keeps_converge_out_of_git(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / ".gitignore").write_text("*.bak")  # no newline at the end
    token = ensure_store(str(d))
    assert token and token.startswith("cvg_")
    assert auth.check_token(read_tokens(str(d)), token) == ("admin", "admin")
    assert ensure_store(str(d)) is None  # once only
    assert (d / ".gitignore").read_text() == "*.bak\n.converge/\n"
    create_token(str(d), "bob", "viewer")
    assert (d / ".gitignore").read_text() == "*.bak\n.converge/\n"  # not twice
    fresh = tmp_path / "n"
    fresh.mkdir()
    from converge import approvals
    from converge.model import Ref

    approvals.approve(str(fresh), [Ref(kind="dataset", name="tank/x")])
    assert (fresh / ".gitignore").read_text() == ".converge/\n"


def test_a_burst_of_first_requests_with_one_token_shares_one_check(homelab, monkeypatch):
    """Thirty requests at once with a token the server has not seen yet: none is refused for too many
    token checks (they share the check in progress instead of each taking from the login bucket)."""
    import threading

    token = create_token(str(homelab), "alice", "viewer")
    hashes: list[int] = []
    real_hash = auth._hash

    def slow(token: str, salt: bytes) -> str:
        hashes.append(1)
        threading.Event().wait(0.3)  # long enough for every request to arrive while it runs
        return real_hash(token, salt)

    monkeypatch.setattr(auth, "_hash", slow)
    app = create_app(str(homelab))
    start, codes = threading.Barrier(30), []

    def get() -> None:
        with api_client(app, token) as c:
            start.wait()
            codes.append(c.get("/api/v1/jobs/x").status_code)

    threads = [threading.Thread(target=get) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [404] * 30 and len(hashes) < 10


def test_lifetimes_expiry_and_last_use(homelab):
    assert [auth.parse_lifetime(t) for t in ("90m", "12h", "30d", "2w")] == [5400, 43200, 2592000, 1209600]
    for bad in ("3y", "d", "-1d", "0h", "1.5h", ""):
        try:
            auth.parse_lifetime(bad)
        except ValueError as e:
            assert "m, h, d or w" in str(e)
        else:
            raise AssertionError(bad)
    now = [1_800_000_000.0]
    token = create_token(str(homelab), "ci", "viewer", lifetime=3600, now=now[0])
    entry = read_tokens(str(homelab))["ci"]
    assert (entry["created"], entry["expires"]) == ("2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z")
    assert not auth.expired(entry, now[0] + 3599) and auth.expired(entry, now[0] + 3600)
    c = api_client(create_app(str(homelab), clock=lambda: now[0]), token)
    for step in (0, 10, 40):  # "last used" is written at most once a minute
        now[0] += step
        assert c.get("/api/v1/auth/me").status_code == 200
    [listed] = auth.list_tokens(str(homelab))
    assert listed == {"name": "ci", "role": "viewer", "created": "2027-01-15T08:00:00Z",
                      "expires": "2027-01-15T09:00:00Z", "last_used": "2027-01-15T08:00:00Z"}
    now[0] += 20
    assert c.get("/api/v1/auth/me").status_code == 200
    assert auth.list_tokens(str(homelab))[0]["last_used"] == "2027-01-15T08:01:10Z"
    assert token not in (homelab / ".converge" / "tokens-used.json").read_text()
    assert auth.revoke_token(str(homelab), "ci") and not auth.revoke_token(str(homelab), "ci")


def test_a_token_with_a_broken_expiry_makes_the_store_untrusted(homelab):
    create_token(str(homelab), "ci", "viewer")
    data = json.loads(open(tokens_path(str(homelab))).read())
    data["ci"]["expires"] = "next week"
    open(tokens_path(str(homelab)), "w").write(json.dumps(data))
    try:
        read_tokens(str(homelab))
    except auth.TokenStoreError as e:
        assert "has an `expires` that is no ISO 8601 time" in str(e)
    else:
        raise AssertionError("accepted")
    assert api_client(create_app(str(homelab)), "cvg_x").get("/api/v1/plan").status_code == 503
