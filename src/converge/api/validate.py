"""POST /api/v1/validate/{path}: check a manifest file's new text without writing it.

The body is the YAML a `PUT /api/v1/manifests/{path}` would write. The whole directory is
validated with it and planned against the host, exactly as that PUT does before it writes:
422 with file:line details when it would be refused, else {"file", "plan", "held"}: what the
directory would plan with the text. Nothing is written or committed. Admin only, like the PUT."""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import engine
from ..edit import Edit, validate_edit
from ..errors import ManifestError
from ..manifest import check_references
from ..planner import build_plan
from .errors import ApiError
from .routes import authorize, body_bytes, service
from .service import Service


def check(svc: Service, rel: str, text: str) -> dict[str, Any]:
    path = svc.manifest_path(rel)
    if path.endswith(".j2"):
        raise ApiError(409, f"{rel} is a template: the API does not write templates", code="templated")
    target = svc.target()
    try:
        desired, issues = validate_edit(svc.directory, Edit(path, "", text), target.config.vars)
    except RecursionError:
        raise ApiError(400, f"{rel} nests too deeply to be a manifest") from None
    ctx = engine.read_facts(target.host, desired, target.config.settings)
    issues += check_references(desired, engine.present_refs(ctx))
    if issues:
        raise ManifestError(issues)
    plan = build_plan(ctx)
    plan.host, plan.directory = target.host.name, target.directory
    return {"file": os.path.relpath(path, svc.directory),
            "held": [{"ref": str(c.ref), "reason": c.blocked} for c in plan.changes if c.blocked],
            "plan": json.loads(plan.redacted().model_dump_json())}


async def post_validate(request: Request) -> Response:
    authorize(request, write=True)  # a POST: guard.Guard wants the admin role already
    try:
        text = (await body_bytes(request)).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"the body is not UTF-8 (byte {e.start}); manifests are UTF-8 text") from None
    return JSONResponse(await run_in_threadpool(check, service(request), request.path_params["path"], text))


def openapi_paths(manifest_param: dict[str, Any], responses: Any, json_body: Any, write: tuple[int, ...]) -> dict[str, Any]:
    return {"/api/v1/validate/{path}": {
        "parameters": [manifest_param],
        "post": {"summary": "check a manifest file's new text (validated and planned as PUT /manifests would), write nothing",
                 "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"$ref": "#/components/schemas/Manifest"}}}},
                 "responses": responses({"200": json_body({"type": "object", "required": ["file", "plan", "held"], "properties": {
                     "file": {"type": "string"}, "plan": {"type": "object"}, "held": {"type": "array", "items": {"type": "object"}}}})},
                     (*write, 409))}}}
