"""/api/v1/system and /api/v1/services: the host's settings and services, edited as YAML."""

from __future__ import annotations


def test_system_is_one_resource_named_host_and_edits_keep_the_section_flat(client, homelab):
    item = client.get("/api/v1/system/host").json()
    assert item["desired"]["hostname"] == "nas" and item["desired"]["timezone"] == "Europe/Berlin"
    r = client.patch("/api/v1/system/host", json={"timezone": "UTC"})
    assert r.status_code == 200, r.json()
    text = (homelab / "system.yaml").read_text()
    assert "  timezone: UTC\n" in text and "host:" not in text and "# The host itself" in text
    bad = client.patch("/api/v1/system/host", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "tz database" in bad.text


def test_service_actions_are_manifest_edits(client, homelab):
    assert client.post("/api/v1/services/ssh/restart").status_code == 200
    assert "restart_requested:" in (homelab / "system.yaml").read_text()
    assert client.post("/api/v1/services/ssh/stop").status_code == 200
    assert "state: stopped" in (homelab / "system.yaml").read_text()
