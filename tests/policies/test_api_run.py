"""POST /api/v1/snapshot_policies/NAME/run: the policy runs now (not an edit) and says what it did."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from converge.api import create_app
from converge.api.auth import create_token
from converge.cli import main

HOMELAB = Path(__file__).resolve().parents[2] / "examples" / "homelab"


def test_run_a_policy_through_the_api(tmp_path):
    d = tmp_path / "homelab"
    shutil.copytree(HOMELAB, d, ignore=shutil.ignore_patterns(".converge"))
    assert CliRunner().invoke(main, ["apply", str(d)]).exit_code == 0
    token = create_token(str(d), "admin", "admin")
    client = TestClient(create_app(str(d)), base_url="http://localhost:8470", headers={"Authorization": f"Bearer {token}"})
    before = (d / "snapshots.yaml").read_text()
    answer = client.post("/api/v1/snapshot_policies/hourly/run", json={"at": "2026-12-01T10:00:00Z"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ref": "snapshot_policy/hourly", "actions": [
        {"action": "created", "snapshot": "tank/media@auto-hourly-20261201-100000", "detail": ""},
        {"action": "created", "snapshot": "tank/backups@auto-hourly-20261201-100000", "detail": ""}]}
    assert (d / "snapshots.yaml").read_text() == before, "a run is not a manifest edit"
    listed = client.get("/api/v1/snapshot_policies").json()
    assert "hourly" in str(listed) and "daily" in str(listed)
    missing = client.post("/api/v1/snapshot_policies/nope/run")
    assert missing.status_code >= 400 and "not declared" in missing.text
    bad = client.post("/api/v1/snapshot_policies/hourly/run", json={"at": "soon"})
    assert bad.status_code >= 400 and "ISO 8601" in bad.text
