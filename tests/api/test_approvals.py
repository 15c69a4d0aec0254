"""Approvals over the API: what the watcher holds, releasing it, refusing what no approval releases."""

from __future__ import annotations

from converge import approvals, engine
from converge.model import Ref


def removed(homelab, client):
    """examples/homelab applied, then tank/media/movies (plain) and tank/backups (protected) removed."""
    engine.reconcile(engine.open_target(str(homelab)))
    storage = homelab / "storage.yaml"
    text = storage.read_text()
    for line in ("  tank/media/movies: {}\n",
                 '  tank/backups:\n    properties: {compression: zstd-9, quota: 1T, readonly: "off"}\n'
                 "    protect: true          # never destroyed by converge, even if this entry goes away\n"):
        assert line in text
        text = text.replace(line, "")
    storage.write_text(text)
    return client


def test_get_lists_what_an_approval_releases(homelab, client):
    removed(homelab, client)
    assert client.get("/api/v1/approvals").json() == {"held": ["dataset/tank/media/movies"], "approved": []}


def test_post_without_refs_approves_all_held_and_says_so_on_the_event_stream(homelab, client):
    removed(homelab, client)
    r = client.post("/api/v1/approvals", json={})
    assert r.status_code == 200 and r.json() == {"approved": ["dataset/tank/media/movies"]}
    assert approvals.load(str(homelab)) == {Ref(kind="dataset", name="tank/media/movies")}
    assert client.get("/api/v1/approvals").json()["approved"] == ["dataset/tank/media/movies"]
    [event] = client.app.state.service.events.items
    assert event["event"] == "approval" and event["approved"] == ["dataset/tank/media/movies"] and event["by"] == "admin"


def test_post_refuses_a_protected_or_not_pending_ref_and_records_nothing(homelab, client):
    removed(homelab, client)
    for ref in ("dataset/tank/backups", "dataset/tank/media"):
        r = client.post("/api/v1/approvals", json={"refs": [ref, "dataset/tank/media/movies"]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
        assert f"nothing that an approval releases is held for {ref}" in r.json()["error"]["message"]
    assert approvals.load(str(homelab)) == set()


def test_post_with_a_bad_body_is_422(homelab, client):
    removed(homelab, client)
    for body in ({"refs": "dataset/tank/media/movies"}, {"refs": [5]}, {"refs": ["nope"]}, ["dataset/x"]):
        r = client.post("/api/v1/approvals", json=body)
        assert r.status_code == 422, (body, r.json())
    assert approvals.load(str(homelab)) == set()
