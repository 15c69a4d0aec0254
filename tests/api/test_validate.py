"""POST /api/v1/validate/{path}: the checks of PUT /manifests, and nothing written."""

from __future__ import annotations

from .conftest import git


def test_validate_answers_the_plan_or_the_errors_and_writes_nothing(client, homelab):
    text = (homelab / "storage.yaml").read_text()
    yaml = {"Content-Type": "application/yaml"}
    ok = client.post("/api/v1/validate/storage.yaml", content=text.replace("quota: 200G", "quota: 300G"), headers=yaml)
    assert ok.status_code == 200, ok.text
    diffs = [d["path"] for c in ok.json()["plan"]["changes"] if c["ref"]["name"] == "tank/media/music" for d in c["diffs"]]
    assert "properties.quota" in diffs
    bad = client.post("/api/v1/validate/storage.yaml", content=text.replace("quota: 200G", "quota: lots"), headers=yaml)
    assert bad.status_code == 422
    detail = bad.json()["error"]["details"][0]
    assert detail["file"].endswith("storage.yaml") and detail["line"] and detail["path"].endswith("properties.quota")
    assert client.post("/api/v1/validate/converge.yaml", content=b"x: 1", headers=yaml).status_code == 403
    assert (homelab / "storage.yaml").read_text() == text and git(homelab, "status", "--porcelain") == ""
