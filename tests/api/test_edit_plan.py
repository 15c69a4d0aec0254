"""The plan an edit of one resource answers with covers that resource and what depends on it,
and says of each exactly what a full plan of the whole directory says."""

from __future__ import annotations

from converge import engine


def _full_plan(directory) -> dict[str, dict]:
    plan, _ = engine.plan(engine.open_target(str(directory)))
    return {f"{c['ref']['kind']}/{c['ref']['name']}": c for c in plan.redacted().model_dump(mode="json")["changes"]}


def _answered(response) -> dict[str, dict]:
    assert response.status_code in (200, 201), response.text
    return {f"{c['ref']['kind']}/{c['ref']['name']}": c for c in response.json()["plan"]["changes"]}


def test_an_edits_plan_is_the_full_plans_for_that_resource_and_its_dependents(client, homelab):
    assert engine.reconcile(engine.open_target(str(homelab))).report.ok
    answered = _answered(client.patch("/api/v1/datasets/tank/media", json={"properties": {"quota": "3T"}}))
    full = _full_plan(homelab)
    assert answered == full and "dataset/tank/media" in answered  # the rest of the homelab is converged

    moved = _answered(client.patch("/api/v1/datasets/tank/media",
                                   json={"properties": {"quota": "3T", "mountpoint": "/srv/media-moved"}}))
    full = _full_plan(homelab)
    assert moved == full and [d["path"] for d in moved["dataset/tank/media"]["diffs"]] == [
        "properties.mountpoint", "properties.quota"]

    created = _answered(client.post("/api/v1/datasets", json={"name": "tank/fresh", "properties": {"quota": "1G"}}))
    full = _full_plan(homelab)
    # tank/media's pending edit is not this edit's business; tank/fresh is planned as a full plan plans it
    assert created == {"dataset/tank/fresh": full["dataset/tank/fresh"]} and "dataset/tank/media" in full


def test_what_an_edit_affects_includes_what_depends_on_it(homelab):
    from converge.api.service import _affected
    from converge.model import Ref

    _, ctx = engine.plan(engine.open_target(str(homelab)))
    affected = _affected(ctx, [Ref.parse("dataset/tank/media")])
    assert Ref.parse("dataset/tank/media") in affected
    assert any(r.kind == "smb" for r in affected) and not any(r.kind == "user" for r in affected)
    assert _affected(ctx, [Ref.parse("dataset/tank/never")]) == []  # neither declared nor on the host
