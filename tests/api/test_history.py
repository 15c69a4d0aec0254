"""GET /api/v1/history and POST /api/v1/history/{commit}/revert."""

from __future__ import annotations

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import api_client, git


def test_history_lists_commits_with_their_diff_and_author(client, homelab):
    assert client.patch("/api/v1/datasets/tank/media/music", json={"properties": {"quota": "300G"}}).status_code == 200
    commits = client.get("/api/v1/history?limit=5").json()["commits"]
    newest = commits[0]
    assert (newest["author"], newest["message"], newest["files"]) == ("admin", "api: update dataset tank/media/music", ["storage.yaml"])
    changed = [line for line in newest["diff"].splitlines() if line[:1] in ("+", "-") and not line.startswith(("+++", "---"))]
    assert changed == ["-    properties: {quota: 200G}", "+    properties: {quota: 300G}"]
    assert commits[-1]["message"] == "homelab" and len(commits) == 2


def test_revert_undoes_one_commit_on_the_file_as_it_is_now(client, homelab):
    first = client.patch("/api/v1/datasets/tank/media/music", json={"properties": {"quota": "300G"}}).json()["commit"]
    client.patch("/api/v1/datasets/tank/appdata", json={"properties": {"recordsize": "32K"}})  # a later edit of the same file stays
    r = client.post(f"/api/v1/history/{first[:12]}/revert")
    assert r.status_code == 200, r.text
    text = (homelab / "storage.yaml").read_text()
    assert "quota: 200G" in text and "recordsize: 32K" in text
    assert git(homelab, "log", "-1", "--format=%an|%s").startswith("admin|api: revert " + first[:12])


def test_revert_refuses_what_it_cannot_do(client, homelab):
    root = git(homelab, "rev-list", "--max-parents=0", "HEAD").strip()
    r = client.post(f"/api/v1/history/{root}/revert")  # the first commit touches every file
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_revertible"
    assert client.post("/api/v1/history/0000000/revert").status_code == 404
    assert client.post("/api/v1/history/HEAD~1/revert").status_code in (400, 404)
    assert client.get("/api/v1/history?limit=0").status_code == 400
    assert git(homelab, "status", "--porcelain") == ""


def test_a_revert_that_does_not_apply_cleanly_is_refused_and_nothing_changes(client, homelab):
    first = client.patch("/api/v1/datasets/tank/media/music", json={"properties": {"quota": "300G"}}).json()["commit"]
    client.patch("/api/v1/datasets/tank/media/music", json={"properties": {"quota": "400G"}})
    before = (homelab / "storage.yaml").read_text()
    r = client.post(f"/api/v1/history/{first}/revert")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert (homelab / "storage.yaml").read_text() == before


def test_a_viewer_may_read_the_history_but_not_revert(homelab):
    app = create_app(str(homelab))
    create_token(str(homelab), "admin", "admin")
    viewer = api_client(app, create_token(str(homelab), "v", "viewer"))
    assert viewer.get("/api/v1/history").status_code == 200
    head = git(homelab, "rev-parse", "HEAD").strip()
    assert viewer.post(f"/api/v1/history/{head}/revert").status_code == 403


def test_a_subject_with_control_characters_is_one_commit(client, homelab):
    (homelab / "extra.yaml").write_text("datasets:\n  tank/extra: {}\n")
    git(homelab, "add", "extra.yaml")
    git(homelab, "commit", "-qm", "evil\x1e\x1fsubject\ndiff --git a/x b/x")
    newest, first = client.get("/api/v1/history").json()["commits"]
    assert newest["message"] == "evil\x1e\x1fsubject diff --git a/x b/x" and newest["files"] == ["extra.yaml"]  # git folds the first paragraph
    assert first["message"] == "homelab"
