"""OpenAPI 3.1 document, from the same pydantic models as the manifests' JSON Schema."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..resources import BY_KIND
from ..schema import manifest_schema
from .service import COLLECTIONS

ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: str, schema: dict[str, Any] | None = None, *codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "success", "content": {"application/json": {"schema": schema or {}}}}}
    for code in (400, 401, 403, 421, 429, 503, *codes):  # 421: wrong Host; 503: token store broken
        out[str(code)] = {"description": "error", "content": {"application/json": {"schema": ERROR}}}
    return out


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    schemas = dict(manifest_schema()["$defs"])
    for schema in schemas.values():  # OpenAPI components are addressed under #/components/schemas
        _rewrite_refs(schema)
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}}}}}
    paths: dict[str, Any] = {}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "resource name; `/` and `@` are written as they are (tank/media, tank/media@daily)"}
    for coll, kind in COLLECTIONS.items():
        spec = {"$ref": f"#/components/schemas/{BY_KIND[kind].spec.__name__}"}
        create = {"allOf": [spec, {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}]}
        paths[f"/api/v1/{coll}"] = {
            "get": {"summary": f"list {kind}s (desired, actual, drift)", "responses": _responses("200")},
            "post": {"summary": f"declare a {kind} (a manifest edit)", "requestBody": _body(create),
                     "responses": _responses("201", None, 409, 422, 503)}}
        paths[f"/api/v1/{coll}/{{name}}"] = {
            "parameters": [name],
            "get": {"summary": f"one {kind}: desired, actual and drift", "responses": _responses("200", None, 404)},
            "put": {"summary": f"replace a {kind}'s fields", "requestBody": _body(spec),
                    "responses": _responses("200", None, 404, 409, 412, 422, 503)},
            "patch": {"summary": f"merge-patch a {kind}'s fields (RFC 7396)", "requestBody": _body({"type": "object"}),
                      "responses": _responses("200", None, 404, 409, 412, 422, 503)},
            "delete": {"summary": f"remove a {kind} from the manifests",
                       "responses": _responses("200", None, 404, 409, 412, 503)}}
    for path, summary in [("/api/v1/containers/{name}/start", "state: running"),
                          ("/api/v1/containers/{name}/stop", "state: stopped; an optional body {timeout: SECONDS, force: "
                           "true} writes a stop_requested stamp: how this one stop is done"),
                          ("/api/v1/containers/{name}/restart", "restart_requested stamp"),
                          ("/api/v1/pools/{name}/scrub", "scrub_requested stamp"),
                          ("/api/v1/snapshots/{name}/rollback", "rollback_to + rollback_requested on the dataset"),
                          ("/api/v1/datasets/{name}/snapshots", "declare a snapshot of the dataset"),
                          ("/api/v1/users/{name}/password", 'admin: {"password": ...} into the user\'s secret file '
                                                            "(0600), and a password_changed stamp committed"),
                          ("/api/v1/snapshot_policies/{name}/run", "run the policy now (not an edit); body {at}"),
                          ("/api/v1/replications/{name}/run", "run the replication now (not an edit); body {at}")]:
        paths[path] = {"parameters": [name], "post": {"summary": summary, "responses": _responses("200", None, 404, 409, 422)}}
    paths["/api/v1/plan"] = {"get": {"summary": "the plan (see docs/plan-json.md)", "responses": _responses("200")}}
    paths["/api/v1/apply"] = {"post": {"summary": "apply as a job", "responses": _responses("202")}}
    paths["/api/v1/jobs/{id}"] = {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                                  "get": {"summary": "a job and its per-change progress", "responses": _responses("200", None, 404)}}
    paths["/api/v1/facts"] = {"get": {"summary": "the host's actual state", "responses": _responses("200")}}
    paths["/api/v1/health"] = {"get": {"summary": "liveness", "responses": {"200": {"description": "ok"}}}}
    paths["/api/v1/events"] = {"get": {"summary": "server-sent events: edits, apply progress, jobs",
                                       "responses": {"200": {"description": "text/event-stream"}}}}
    paths["/api/v1/approvals"] = {
        "get": {"summary": "destroys/replacements the watcher holds, and approvals not yet used",
                "responses": _responses("200")},
        "post": {"summary": "approve held changes (no refs: all that are held); the watcher applies them",
                 "requestBody": _body({"type": "object", "properties": {"refs": {"type": "array", "items": {
                     "type": "string", "description": "kind/name"}}}}),
                 "responses": _responses("200", None, 409, 422)}}
    paths["/api/v1/manifests/{path}"] = {
        "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "NAME.yaml, NAME.yml or NAME.yaml.j2, optionally in DIR/ (not converge.yaml)"}],
        "get": {"summary": "a manifest file", "responses": _responses("200", None, 404, 409)},
        "put": {"summary": "write a whole manifest file (validated first)",
                "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}},
                "responses": _responses("200", None, 409, 412, 422, 503)}}
    return {"openapi": "3.1.0", "info": {"title": "converge", "version": "1"},
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}], "paths": paths}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _rewrite_refs(node: Any) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref[len("#/$defs/"):]
        for value in node.values():
            _rewrite_refs(value)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value)
