"""POST /api/v1/hosts/NAME/status (api/host_status.py): an agent token posts its own host's
status and nothing else; statuses show in GET /hosts and /hosts/NAME with their age."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from starlette.testclient import WebSocketDenialResponse

from converge.api import create_app
from converge.api.auth import TokenStoreError, create_token, list_tokens, read_tokens, tokens_path
from converge.cli import main

from .conftest import api_client
from .test_fleet_api import with_inventory
from .test_websocket import WS


def status(host: str, **change) -> dict:
    body = {"host": host, "last_apply": {"at": "2026-11-28T12:00:00Z", "result": "ok", "changes": 2}, "drift": 0,
            "converged": True, "version": "0.1.0"}
    return body | change


@pytest.fixture
def app(homelab, admin_token, clock):
    with_inventory(homelab)
    return create_app(str(homelab), clock=clock)


def agent(app, homelab, host: str = "backup"):
    return api_client(app, create_token(str(homelab), f"agent-{host}", "agent", host=host))


def test_an_agent_posts_its_hosts_status_and_the_fleet_shows_it_with_its_age(app, homelab, admin_token, clock):
    answer = agent(app, homelab).post("/api/v1/hosts/backup/status", json=status("backup"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["age_seconds"] == 0 and answer.json()["last_apply"]["changes"] == 2
    stored = json.loads((homelab / ".converge" / "host-status.json").read_text())
    assert stored["backup"]["received"] and stored["backup"]["drift"] == 0
    clock.now += 90
    admin = api_client(app, admin_token)
    listed = {h["name"]: h for h in admin.get("/api/v1/hosts").json()["hosts"]}
    assert listed["backup"]["status"]["age_seconds"] == 90 and listed["backup"]["status"]["converged"] is True
    assert listed["nas2"]["status"] is None  # its agent never reported
    one = admin.get("/api/v1/hosts/backup").json()
    assert one["name"] == "backup" and one["status"]["last_apply"]["result"] == "ok"
    assert admin.get("/api/v1/hosts/nope").status_code == 404


def test_another_hosts_token_is_refused(app, homelab):
    refused = agent(app, homelab, "nas2").post("/api/v1/hosts/backup/status", json=status("backup"))
    assert refused.status_code == 403
    assert "posts the status of 'nas2' only" in refused.json()["error"]["message"]
    assert not (homelab / ".converge" / "host-status.json").exists()


def test_an_agent_token_reads_and_changes_nothing_else(app, homelab):
    client = agent(app, homelab)
    assert client.get("/api/v1/hosts").status_code == 403
    assert client.get("/api/v1/plan").status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 403
    assert client.post("/api/v1/apply").status_code == 403
    assert client.post("/api/v1/hosts/backup/test").status_code == 403


def test_a_viewer_or_operator_may_not_post_a_status_but_an_admin_may(app, homelab, admin_token):
    for role in ("viewer", "operator"):
        client = api_client(app, create_token(str(homelab), role, role))
        assert client.post("/api/v1/hosts/backup/status", json=status("backup")).status_code == 403
    assert api_client(app, admin_token).post("/api/v1/hosts/nas2/status", json=status("nas2")).status_code == 200


def test_no_token_is_a_401(app):
    assert api_client(app).post("/api/v1/hosts/backup/status", json=status("backup")).status_code == 401


@pytest.mark.parametrize(("body", "says"), [
    (status("nas2"), "is not the host of the path"),
    (status("backup", drift=True), "drift: a whole number"),
    (status("backup", drift=-1), "drift: a whole number"),
    (status("backup", converged="yes"), "converged: true or false"),
    (status("backup", last_apply={"at": "yesterday", "result": "ok", "changes": 0}), "last_apply.at"),
    (status("backup", last_apply={"at": "2026-11-28T12:00:00Z", "result": "great", "changes": 0}), "last_apply.result"),
    (status("backup", token="cvg_x"), "unknown: token"),
    ([], "a JSON object"),
])
def test_a_bad_status_is_a_422_naming_the_field(app, homelab, body, says):
    answer = agent(app, homelab).post("/api/v1/hosts/backup/status", json=body)
    assert answer.status_code == 422 and says in answer.json()["error"]["message"], answer.text
    assert not (homelab / ".converge" / "host-status.json").exists()


def test_a_corrupt_status_file_is_a_503_not_an_empty_fleet(app, homelab, admin_token):
    (homelab / ".converge").mkdir(exist_ok=True)
    (homelab / ".converge" / "host-status.json").write_text("{not json")
    answer = api_client(app, admin_token).get("/api/v1/hosts")
    assert answer.status_code == 503 and "host statuses cannot be read" in answer.json()["error"]["message"]


def test_agent_tokens_name_their_host(homelab):
    with pytest.raises(ValueError, match="agent token needs --host"):
        create_token(str(homelab), "a", "agent")
    with pytest.raises(ValueError, match="other roles take no --host"):
        create_token(str(homelab), "v", "viewer", host="backup")
    with pytest.raises(ValueError, match="a host name is"):
        create_token(str(homelab), "a", "agent", host="../x")
    create_token(str(homelab), "a", "agent", host="backup")
    assert [t["host"] for t in list_tokens(str(homelab)) if t["name"] == "a"] == ["backup"]
    data = json.loads(open(tokens_path(str(homelab))).read())
    del data["a"]["host"]
    open(tokens_path(str(homelab)), "w").write(json.dumps(data))
    with pytest.raises(TokenStoreError, match="an agent token's host"):
        read_tokens(str(homelab))


def test_an_agent_token_gets_no_event_stream(app, homelab):
    with pytest.raises(WebSocketDenialResponse) as denied, agent(app, homelab).websocket_connect(WS):
        pass
    assert denied.value.status_code == 403 and "event stream needs viewer" in denied.value.json()["error"]["message"]


def test_token_create_for_an_agent_on_the_command_line(homelab):
    made = CliRunner().invoke(main, ["token", "create", "agent-nas1", "--role", "agent", "--host", "nas1", "-C", str(homelab)])
    assert made.exit_code == 0 and made.output.startswith("cvg_")
    listed = CliRunner().invoke(main, ["token", "list", "-C", str(homelab)]).output
    assert "agent-nas1" in listed and "agent" in listed
    refused = CliRunner().invoke(main, ["token", "create", "a", "--role", "agent", "-C", str(homelab)])
    assert refused.exit_code == 1 and "an agent token needs --host HOST" in refused.output
