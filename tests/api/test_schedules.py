"""GET /api/v1/schedules: the info lines of `converge plan` (next policy runs, next scrubs)."""

from __future__ import annotations


def test_schedules_name_each_policy_replication_and_scrub(client):
    lines = client.get("/api/v1/schedules").json()["lines"]
    refs = [line.partition(":")[0] for line in lines]
    assert {"snapshot_policy/daily", "snapshot_policy/hourly", "pool/tank"} <= set(refs)
    assert all(" next " in line for line in lines)
