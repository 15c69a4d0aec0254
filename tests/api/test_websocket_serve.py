"""/api/v1/ws on a live `converge serve` (uvicorn on a free loopback port), with the `websockets`
client library: what a real client sees of an apply started through the API."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from converge.api.auth import create_token

from .test_serve import request, serve, stop

pytestmark = pytest.mark.real  # a real server on a loopback port, driven by a real client


def receive(ws) -> dict:
    return json.loads(ws.recv(timeout=30))


def test_a_websocket_client_sees_the_per_change_events_of_an_api_apply(homelab):
    proc, port, token = serve(str(homelab))
    url = f"ws://127.0.0.1:{port}/api/v1/ws"
    json_body = {"Content-Type": "application/json"}
    try:
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws, connect(url) as filtered:
            assert receive(ws)["event"] == "subscribed"
            filtered.send(json.dumps({"token": token, "subscribe": {"kinds": ["dataset"], "names": ["tank/live"]}}))
            assert receive(filtered)["filter"]["names"] == ["tank/live"]
            code, _ = request(port, "POST", "/api/v1/datasets", token, json_body, b'{"name": "tank/live"}')
            assert code == 201
            code, body = request(port, "POST", "/api/v1/apply", token)
            assert code == 202
            job = json.loads(body)["id"]
            events = [receive(ws)]
            while events[-1]["event"] != "job":
                events.append(receive(ws))
            assert events[0]["event"] == "edit" and events[-1] == {**events[-1], "job": job, "status": "done"}
            mine = [(e["status"], e["action"]) for e in events if e.get("ref") == "dataset/tank/live"]
            assert mine == [("started", "+"), ("done", "+")]
            assert len({e["ref"] for e in events if e["event"] == "apply"}) > 1  # the whole homelab was applied
            seen = [receive(filtered) for _ in range(4)]  # its edit, its two changes, the job that applied it
            assert [e["event"] for e in seen] == ["edit", "apply", "apply", "job"]
            assert all(e.get("ref", "dataset/tank/live") == "dataset/tank/live" for e in seen)
        with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers={"Authorization": "Bearer cvg_wrong"}):
            pass
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body)["error"]["code"] == "unauthorized"
        create_token(str(homelab), "alice", "viewer")  # now reads need a token, on loopback too
        with connect(url) as ws:
            ws.send(json.dumps({"subscribe": {}}))
            assert receive(ws)["error"]["code"] == "unauthorized"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd.code == 4401
    finally:
        stop(proc)
