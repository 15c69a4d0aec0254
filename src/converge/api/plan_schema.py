"""The plan's JSON Schema for the OpenAPI document, from the same pydantic model the API
serialises (`GET /api/v1/plan`, an edit's `plan`): so a generated client gets typed changes,
refs, diffs and steps instead of an untyped object. Its parts are named Plan*: PlanChange,
PlanRef, ... (the manifests' schemas own the plain names)."""

from __future__ import annotations

from typing import Any

from ..model import Plan


def plan_schemas() -> dict[str, Any]:
    schema = Plan.model_json_schema(mode="serialization", ref_template="#/components/schemas/Plan{model}")
    out = {f"Plan{name}": {**part, "title": f"Plan{name}"} for name, part in schema.pop("$defs", {}).items()}
    out["Plan"] = {**schema, "description": "a plan: the changes that would bring the host to the manifests "
                   "(sensitive values masked)"}
    return out
