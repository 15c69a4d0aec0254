"""/api/v1/ws in-process (Starlette's TestClient): auth, subscription filters, the per-change
events of an apply started through the API. The same against a live `converge serve` with the
`websockets` client is in test_websocket_serve.py."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from converge.api import create_app
from converge.api.auth import create_token
from converge.api.websocket import Subscription, refs_of

from .conftest import api_client

WS = "ws://localhost:8470/api/v1/ws"  # the Host a local caller sends (TestClient would send testserver)


def until_job(ws) -> list[dict]:
    """Every message up to and including the job's end."""
    got = []
    while not got or got[-1].get("event") != "job":
        got.append(ws.receive_json())
    return got


def test_a_websocket_sees_the_per_change_events_of_an_api_apply(client, admin_token):
    with client.websocket_connect(WS) as ws:
        hello = ws.receive_json()
        assert hello["event"] == "subscribed" and hello["identity"] == "admin"
        r = client.post("/api/v1/datasets", json={"name": "tank/ws", "properties": {"quota": "1G"}})
        assert r.status_code == 201
        edit = ws.receive_json()
        assert edit["event"] == "edit" and edit["refs"] == ["dataset/tank/ws"]
        job = client.post("/api/v1/apply").json()
        events = until_job(ws)
    changes = [e for e in events if e["event"] == "apply"]
    assert {e["job"] for e in changes} == {job["id"]}
    assert ("dataset/tank/ws", "+", "done") in {(e["ref"], e["action"], e["status"]) for e in changes}
    assert [e["status"] for e in changes if e["ref"] == "dataset/tank/ws"] == ["started", "done"]
    assert events[-1]["status"] == "done" and "dataset/tank/ws" in events[-1]["refs"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)  # in order, each once


def test_the_filter_by_kind_and_name_and_the_token_as_first_message(homelab, admin_token):
    app = create_app(str(homelab))
    anonymous, client = api_client(app), api_client(app, admin_token)
    with anonymous.websocket_connect(WS) as ws:
        ws.send_json({"token": admin_token, "subscribe": {"kinds": ["container"], "names": ["jelly*"]}})
        hello = ws.receive_json()
        assert hello["filter"] == {"events": [], "kinds": ["container"], "names": ["jelly*"]}
        assert client.post("/api/v1/datasets", json={"name": "tank/quiet"}).status_code == 201
        assert client.post("/api/v1/containers/jellyfin/stop").status_code == 200
        job = client.post("/api/v1/apply").json()
        events = until_job(ws)
        assert {e["event"] for e in events} == {"edit", "apply", "job"}
        assert {e["ref"] for e in events if "ref" in e} == {"container/jellyfin"}  # no dataset, no other container
        assert events[-1]["job"] == job["id"]
        ws.send_json({"subscribe": {"colour": "red"}})
        error = ws.receive_json()
        assert error["event"] == "error" and "'colour'" in error["error"]["message"]
        ws.send_json({"subscribe": {"events": ["edit"], "since": 0}})  # replay: only the edits
        assert ws.receive_json()["event"] == "subscribed"
        assert [ws.receive_json()["refs"] for _ in range(2)] == [["dataset/tank/quiet"], ["container/jellyfin"]]


def test_without_a_valid_token_nothing_is_streamed(homelab, admin_token):
    app = create_app(str(homelab))
    with pytest.raises(WebSocketDenialResponse) as denied, api_client(app, "cvg_wrong").websocket_connect(WS):
        pass
    assert denied.value.status_code == 401 and denied.value.json()["error"]["code"] == "unauthorized"
    with api_client(app).websocket_connect(WS) as ws:
        ws.send_json({"token": "cvg_wrong"})
        assert ws.receive_json()["error"]["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    # the query string is no place for a token: it is not read, the first message still must bring one
    with api_client(app).websocket_connect(f"{WS}?token={admin_token}") as ws:
        ws.send_json({"subscribe": {}})
        assert ws.receive_json()["error"]["code"] == "unauthorized"
    page = api_client(app, admin_token)
    page.headers["Origin"] = "https://evil.example"  # a page on another site, with a token it should not have
    with pytest.raises(WebSocketDenialResponse) as denied, page.websocket_connect(WS):
        pass
    assert denied.value.status_code == 403
    r = api_client(app, admin_token).get("/api/v1/ws")  # plain HTTP: how to open it
    assert r.status_code == 426 and r.headers["upgrade"] == "websocket"


def test_a_viewer_streams_and_each_stream_takes_a_slot(homelab):
    viewer = create_token(str(homelab), "vera", "viewer")
    app = create_app(str(homelab), streams_per_token=1)
    client = api_client(app, viewer)
    with client.websocket_connect(WS) as ws:
        assert ws.receive_json()["identity"] == "vera"
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(WS):
            pass
        assert denied.value.status_code == 429
    with client.websocket_connect(WS) as ws:  # the slot came back when the first closed
        assert ws.receive_json()["event"] == "subscribed"


def test_refs_of_every_event_shape():
    assert refs_of({"event": "apply", "ref": "dataset/tank/a"}) == [("dataset", "tank/a")]
    assert refs_of({"event": "reconcile", "applied": ["smb/media"], "held": ["dataset/tank/old"], "failed": []}) == [
        ("smb", "media"), ("dataset", "tank/old")]
    assert refs_of({"event": "drift", "changes": [{"ref": "pool/tank", "action": "update"}]}) == [("pool", "tank")]
    assert refs_of({"event": "git-pull", "ok": False}) == []
    assert not Subscription(names=["tank"]).matches({"event": "job", "refs": []})
    assert Subscription(events=["job"]).matches({"event": "job", "refs": []})
    assert not Subscription(kinds=["pool"], names=["media"]).matches({"event": "x", "applied": ["pool/tank", "smb/media"]})


def test_the_openapi_document_describes_the_route_and_its_messages(client):
    import jsonschema

    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/ws"]["get"]
    assert {"101", "401", "403", "426", "429"} <= set(op["responses"])
    schema = {**op["x-websocket-messages"]["client"], "components": doc["components"]}
    check = jsonschema.Draft202012Validator(schema)
    check.validate({"token": "cvg_x", "subscribe": {"kinds": ["dataset"], "names": ["tank/*"], "since": 0}})
    for bad in ({"subscribe": {"colour": "red"}}, {"subscribe": {"kinds": ["planet"]}}, {"hello": 1}):
        assert not check.is_valid(bad), bad  # the server refuses these too (test above)
    r = client.get("/api/v1/ws")
    assert r.status_code == 426 and r.json()["error"]["code"] == "upgrade_required"
