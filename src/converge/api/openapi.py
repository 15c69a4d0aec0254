"""OpenAPI 3.1 document, from the same pydantic models as the manifests' JSON Schema.

Everything per kind comes from the registry (each kind's collection, spec and actions): bodies are
the kind's spec schema (a POST to a collection adds the required `name`), path parameters carry
the kind's name rule, list parameters its spec fields. Every status a route can answer is listed
with the one error shape; schemathesis checks the document against the real server
(tests/api/test_schemathesis.py)."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from ..resources import BY_KIND, KINDS
from ..schema import manifest_schema
from ..types import MAX_NAME
from . import fleet, fleet_jobs, history, host_status, listing, schedules, validate, websocket
from .apiusers import MAX_PASSWORD
from .apiusers import NAME as ACCOUNT_NAME
from .permissions import ROLES
from .plan_schema import plan_schemas
from .routes import MAX_BODY
from .service import collections

ERROR = {"$ref": "#/components/schemas/Error"}
WHY = {400: "bad request: a query parameter, a body that is not JSON, nests too deeply, or a bad path",
       401: "no valid bearer token (missing, wrong, expired or revoked), or a wrong username or password",
       403: "not allowed: the token's role does not reach the route's, a foreign Origin, or converge.yaml",
       404: "not declared and not on the host", 405: "method not allowed", 409: "conflict: exists already, a template, "
       "busy, or the edit would not plan", 412: "If-Match does not match the current ETag",
       413: f"the body is longer than {MAX_BODY} bytes", 415: "the body is not sent as application/json",
       421: "the Host header does not name this server", 422: "the result would not validate (details: file, line, field)",
       426: "a plain request to a WebSocket route: open it with a WebSocket client",
       429: "rate limited (Retry-After)", 503: "the token store or a manifest cannot be read"}
GUARDED = (401, 421, 429, 503)  # what guard.Guard may answer before any handler
READ = (*GUARDED, 400)
WRITE = (*GUARDED, 400, 403, 409, 413, 415, 422)
LIMIT_HEADERS = {h: {"description": d, "schema": {"type": "string", "pattern": "^[0-9]+$"}} for h, d in [
    ("X-RateLimit-Limit", "the size of this caller's bucket (requests in a burst)"),
    ("X-RateLimit-Remaining", "requests left in the bucket now"),
    ("X-RateLimit-Reset", "seconds until the bucket is full again")]}


def _json(schema: dict[str, Any], description: str = "success", headers: dict[str, Any] | None = None,
          media: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _responses(ok: dict[str, dict[str, Any]], codes: tuple[int, ...], public: bool = False) -> dict[str, Any]:
    out = {status: (answer if public else {**answer, "headers": {**LIMIT_HEADERS, **answer.get("headers", {})}})
           for status, answer in ok.items()}
    for code in sorted(set(codes)):
        headers = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait"}} if code == 429 else {}
        out[str(code)] = _json(ERROR, WHY[code], headers or None)
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op_id(method: str, path: str) -> str:
    return method + "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", path.removeprefix("/api/v1")) if p)


def _name_param(kind: str) -> dict[str, Any]:
    k = BY_KIND[kind]
    return {"name": "name", "in": "path", "required": True, "description": f"the {kind}'s name: {k.name_allowed}; "
            "`/` and `@` are written as they are (tank/media, tank/media@daily), or percent-encoded",
            "schema": {"type": "string", "pattern": f"^(?:{k.name_pattern.pattern})$", "maxLength": MAX_NAME}}


def _create_schema(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's schema plus a required `name`: one object, so `additionalProperties: false`
    still holds and a body that validates against it is one the server takes apart."""
    out = copy.deepcopy(spec)
    out["title"] = f"{spec.get('title', kind).removesuffix('Spec')}Create"  # generated clients name classes by title
    out.setdefault("description", f"a {kind}'s name and fields")
    out["properties"] = {"name": _name_param(kind)["schema"], **out.get("properties", {})}
    out["required"] = ["name", *out.get("required", [])]
    return out


def _patch_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7396) of the spec: any of its fields, null removes one."""
    return {"type": "object", "additionalProperties": False, "title": f"{spec.get('title', 'Spec').removesuffix('Spec')}Patch",
            "description": f"a JSON merge patch (RFC 7396) of {spec.get('title', 'a spec')}: any of its fields, null removes one",
            "properties": {k: {"anyOf": [v, {"type": "null"}]} for k, v in spec.get("properties", {}).items()}}


def _list_params(kind: str) -> list[dict[str, Any]]:
    def q(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
        out = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
        return out | ({"example": example} if example is not None else {})

    fields = listing.spec_fields(kind)
    sortable = list(dict.fromkeys([*listing.ITEM_FIELDS, *fields]))  # a spec field may share an item field's name (file)
    params = [
        q("q", {"type": "string"}, "text in the name, a comment field or the entry's # comments (case-insensitive)", "media"),
        q("name", {"type": "string"}, "name prefix"),
        q("file", {"type": "string"}, "only items declared in this manifest file", "storage.yaml"),
        q("sort", {"type": "string", "enum": [p + f for f in sortable for p in ("", "-")]}, "field; '-' descending", "-name"),
        q("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}, "items to skip (with limit)"),
        q("limit", {"type": "integer", "minimum": 1, "maximum": listing.MAX_LIMIT}, "items in the answer (default 100)"),
        q("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "page number from 1 (with per_page)"),
        q("per_page", {"type": "integer", "minimum": 1, "maximum": listing.MAX_LIMIT}, "items a page (default 100); wins over limit"),
        *[q(s, {"type": "boolean"}, f"only items with (true) or without (false) {s}") for s in listing.STATUS],
    ]
    return params + [q(f, {"type": "string", **({"enum": values} if (values := listing.filter_values(kind, f)) else {})},
                       f"only items whose {f} is this (desired, else actual)")
                     for f in fields if f not in (*listing.SEARCH, *listing.PAGING, *listing.STATUS)]


def _common_schemas() -> dict[str, Any]:
    obj, text = {"type": "object"}, {"type": "string"}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": text, "message": text, "details": {"type": "array", "items": obj}}}},
            "example": {"error": {"code": "not_found", "message": "dataset 'tank/x' is neither declared nor on the host",
                                  "details": []}}},
        "Resource": {"type": "object", "required": ["name", "kind", "desired", "actual", "managed", "drift", "etag"],
                     "properties": {"name": text, "kind": text, "desired": {"type": ["object", "null"]},
                                    "actual": {"type": ["object", "null"]}, "managed": {"type": "boolean"},
                                    "info": obj, "drift": {"type": "array", "items": obj},
                                    "file": {"type": ["string", "null"]},
                                    "line": {"type": ["integer", "null"]}, "etag": text}},
        "ResourceList": {"type": "object", "required": ["items", "total", "offset", "limit", "page", "per_page", "has_next"],
                         "properties": {"items": {"type": "array", "items": _ref("Resource")},
                                        **{k: {"type": "integer"} for k in ("total", "offset", "limit", "page", "per_page")},
                                        "has_next": {"type": "boolean"}}},
        "EditResult": {"type": "object", "required": ["file", "commit", "held", "plan"],
                       "properties": {"file": text, "commit": {"type": ["string", "null"]},
                                      "held": {"type": "array", "items": obj}, "plan": _ref("Plan"), "job": text}},
        "Job": {"type": "object", "required": ["id", "status"], "properties": {
            "id": text, "status": {"enum": ["queued", "running", "done", "failed"]},
            "changes": {"type": "array", "items": obj}, "report": obj, "error": text}},
        "TokenPair": {"type": "object", "required": ["access_token", "refresh_token", "token_type", "expires_in", "role",
                                                      "username"],
                      "properties": {"access_token": text, "refresh_token": text, "token_type": {"const": "bearer"},
                                     "expires_in": {"type": "integer", "minimum": 0, "description": "seconds"},
                                     "role": {"enum": list(ROLES)}, "username": text}},
        "Me": {"type": "object", "required": ["name", "role", "expires"],
               "properties": {"name": text, "role": {"enum": [*ROLES, "agent", "anonymous"]},
                              "expires": {"type": ["string", "null"], "format": "date-time"}}},
        "TokenInfo": {"type": "object", "required": ["name", "role", "created", "expires", "last_used"],
                      "properties": {"name": text, "role": {"enum": [*ROLES, "agent"]},
                                     "host": {"type": "string", "description": "an agent token's host"},
                                     **{k: {"type": ["string", "null"], "format": "date-time"}
                                        for k in ("created", "expires", "last_used")}}},
        "Health": {"type": "object", "required": ["status", "reasons"], "properties": {
            "status": {"enum": ["ok", "degraded", "down"]}, "reasons": {"type": "array", "items": text},
            "host": obj, "last_apply": {"anyOf": [{"type": "null"}, {
                "type": "object", "required": ["result", "time", "by"], "properties": {
                    "result": {"enum": ["queued", "running", "done", "failed"]}, "time": {"type": "string", "format": "date-time"},
                    "by": {"type": "string", "description": "the token or account that asked; watch for the watcher"},
                    "job": {"type": "string"}, "trigger": {"type": ["string", "null"]}}}]},
            "drift": {"type": ["integer", "null"]}, "held": {"type": ["integer", "null"]}},
            "example": {"status": "degraded", "reasons": ["1 change(s) between the manifests and the host"],
                        "host": {"reachable": True}, "last_apply": None, "drift": 1, "held": 0}},
    }


def _collection_paths(coll: str, kind: str, spec: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    title = BY_KIND[kind].spec.__name__.removesuffix("Spec")
    schemas[f"{title}Create"] = _create_schema(kind, spec)
    schemas[f"{title}Patch"] = _patch_schema(spec)
    base, one = f"/api/v1/{coll}", f"/api/v1/{coll}/{{name}}"
    edit = {"200": _json(_ref("EditResult"))}
    apply = {"name": "apply", "in": "query", "required": False, "schema": {"type": "boolean"},
             "description": "start an apply job after the edit"}
    if_match = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                "description": "the ETag read before: the edit is refused (412) if the resource changed since"}
    links = {m: {"operationId": _op_id(m, one), "parameters": {"name": "$request.body#/name"}}
             for m in ("get", "put", "patch", "delete")}
    paths = {
        base: {"get": {"operationId": _op_id("get", base), "summary": f"list {kind}s: desired, actual, drift",
                       "parameters": _list_params(kind),
                       "responses": _responses({"200": _json(_ref("ResourceList"))}, READ)},
               "post": {"operationId": _op_id("post", base), "summary": f"declare a {kind} (a manifest edit)",
                        "parameters": [apply], "requestBody": _body(_ref(f"{title}Create")),
                        "responses": _responses({"201": _json(_ref("EditResult")) | {"links": links}}, WRITE)}},
        one: {"parameters": [_name_param(kind)],
              "get": {"operationId": _op_id("get", one), "summary": f"one {kind}: desired, actual and drift",
                      "responses": _responses({"200": _json(_ref("Resource"), headers={"ETag": {"schema": {"type": "string"}}})},
                                              (*READ, 404))},
              "put": {"operationId": _op_id("put", one), "summary": f"declare or replace a {kind}'s fields",
                      "parameters": [apply, if_match], "requestBody": _body(spec),
                      "responses": _responses(edit, (*WRITE, 412))},
              "patch": {"operationId": _op_id("patch", one), "summary": f"merge-patch a {kind}'s fields (RFC 7396)",
                        "parameters": [apply, if_match], "requestBody": _body(_ref(f"{title}Patch")),
                        "responses": _responses(edit, (*WRITE, 404, 412))},
              "delete": {"operationId": _op_id("delete", one), "summary": f"remove a {kind} from the manifests",
                         "parameters": [apply, if_match], "responses": _responses(edit, (*WRITE, 404, 412))}}}
    for verb, declared in BY_KIND[kind].actions.items():
        path = f"{one}/{verb}"
        role = "admin" if declared.admin_only else "operator or admin"
        op: dict[str, Any] = {"operationId": _op_id("post", path), "summary": declared.summary, "parameters": [apply],
                              "description": f"role: {role}",
                              "responses": _responses(edit, (*WRITE, 404))}
        if declared.handler == "snapshot":  # the body names the snapshot; the rest is its spec
            snapshot = BY_KIND["snapshot"].spec.__name__.removesuffix("Spec")
            op["requestBody"] = _body(_ref(f"{snapshot}Create"))
            op["responses"] = _responses({"201": _json(_ref("EditResult"))}, (*WRITE, 404))
        elif declared.options:
            op["requestBody"] = {**_body({"type": "object", "additionalProperties": False,
                                          "properties": {o: {} for o in declared.options}}), "required": False}
        elif declared.handler == "run":  # not an edit: what the run did
            op["requestBody"] = {**_body({"type": "object", "additionalProperties": False,
                                          "properties": {"at": {"type": "string", "format": "date-time"}}}),
                                 "required": False}
            op["responses"] = _responses({"200": _json({"type": "object"})}, (*WRITE, 404, 503))
        elif declared.handler == "password":
            op["requestBody"] = _body({"type": "object", "additionalProperties": False, "required": ["password"],
                                       "properties": {"password": {"type": "string", "minLength": 1}}})
            op["responses"] = _responses({"200": _json({"type": "object"})}, (*WRITE, 404, 503))
        paths[path] = {"parameters": [_name_param(kind)], "post": op}
    return paths | _host_collection_paths(coll, kind)


def _host_collection_paths(coll: str, kind: str) -> dict[str, Any]:
    """The same collection on an inventory host (app._host_resource_routes): reads only."""
    from ..fleet.inventory import NAME_PATTERN

    host = {"name": "host", "in": "path", "required": True, "description": "a host of the inventory",
            "schema": {"type": "string", "pattern": NAME_PATTERN}}
    many, one = f"/api/v1/hosts/{{host}}/{coll}", f"/api/v1/hosts/{{host}}/{coll}/{{name}}"
    unreachable = (*READ, 404, 409, 422)  # no such host; it cannot be reached; its inventory is broken
    return {
        many: {"parameters": [host], "get": {
            "operationId": _op_id("get", many), "summary": f"{kind}s of an inventory host: desired, actual, drift",
            "parameters": _list_params(kind), "responses": _responses({"200": _json(_ref("ResourceList"))}, unreachable)}},
        one: {"parameters": [host, _name_param(kind)], "get": {
            "operationId": _op_id("get", one), "summary": f"one {kind} of an inventory host",
            "responses": _responses({"200": _json(_ref("Resource"), headers={"ETag": {"schema": {"type": "string"}}})},
                                    unreachable)}},
    }


def openapi_document() -> dict[str, Any]:
    """Built once per set of registered kinds."""
    return _document(tuple(k.kind for k in KINDS))


@lru_cache(maxsize=2)
def _document(kinds: tuple[str, ...]) -> dict[str, Any]:
    manifest = manifest_schema()
    schemas = dict(manifest.pop("$defs"))
    schemas["Manifest"] = {k: v for k, v in manifest.items() if k not in ("$schema", "$id")}
    for schema in schemas.values():  # OpenAPI components are addressed under #/components/schemas
        _rewrite_refs(schema)
    schemas.update(_common_schemas())
    schemas.update(plan_schemas())
    paths: dict[str, Any] = {}
    for coll, kind in collections().items():
        paths.update(_collection_paths(coll, kind, schemas[BY_KIND[kind].spec.__name__], schemas))
    paths.update(_other_paths())
    ws_paths, ws_schemas = websocket.openapi_paths(_responses({}, (*READ, 403, 426)))
    paths.update(ws_paths)
    schemas.update(ws_schemas)
    paths.update(history.openapi_paths(_responses, _json, READ, WRITE))
    paths.update(schedules.openapi_paths(_responses, _json, READ))
    paths.update(validate.openapi_paths(paths["/api/v1/manifests/{path}"]["parameters"][0], _responses, _json, WRITE))
    paths.update(fleet.openapi_paths(_responses, _json, READ, WRITE))
    paths.update(fleet_jobs.openapi_paths(_responses, _json, READ, WRITE))
    paths.update(host_status.openapi_paths(_responses, _json, WRITE))
    for path, ops in paths.items():
        for method, op in ops.items():
            if method != "parameters":
                op.setdefault("operationId", _op_id(method, path))
    return {"openapi": "3.1.0",
            "info": {"title": "converge", "version": "1",
                     "description": "Every write is an edit of the manifests in git. Lists take filters, q, sort and pages."},
            "components": {"schemas": schemas, "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "a long-lived token (`converge token create`) or the access_token of POST /api/v1/auth/login. "
                               "Roles: viewer reads; operator also runs actions (start/stop/restart, scrub, snapshots, "
                               "run) and plan/apply; admin does everything (resources, manifests, tokens, approvals)"}}},
            "security": [{"bearer": []}], "paths": paths}


def _other_paths() -> dict[str, Any]:
    obj, strings = {"type": "object"}, {"type": "array", "items": {"type": "string"}}
    refs = {"type": "object", "additionalProperties": False, "properties": {"refs": {
        "type": "array", "items": {"type": "string", "pattern": "^[a-z]+/.+$", "description": "kind/name"}}},
        "example": {"refs": ["dataset/tank/old"]}}
    manifest = {"name": "path", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*\.ya?ml(\.j2)?$",
                           "maxLength": 255},
                "description": "NAME.yaml, NAME.yml or NAME.yaml.j2, optionally in DIR/ (not converge.yaml)",
                "example": "storage.yaml"}
    public = {"security": []}
    return {
        "/api/v1/plan": {"get": {"summary": "the plan (see docs/plan-json.md)",
                                 "responses": _responses({"200": _json(_ref("Plan"))}, (*READ, 409, 422))}},
        "/api/v1/apply": {"post": {"summary": "apply as a job",
                                   "requestBody": {"required": False, "content": {"application/json": {"schema": {
                                       "type": "object", "additionalProperties": False,
                                       "properties": {"allow_destroy": strings}}}}},
                                   "responses": _responses({"202": _json(_ref("Job"), headers={
                                       "Location": {"schema": {"type": "string"}}})}, WRITE)}},
        "/api/v1/jobs/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                              "get": {"summary": "a job and its per-change progress",
                                      "responses": _responses({"200": _json(_ref("Job"))}, (*READ, 404))}},
        "/api/v1/facts": {"get": {"summary": "the host's actual state (sensitive fields masked)",
                                  "responses": _responses({"200": _json(obj)}, (*READ, 409))}},
        "/api/v1/health": {"get": public | {"summary": "ok, degraded or down, and why (public)",
                                            "responses": _responses({"200": _json(_ref("Health")),
                                                                     "503": _json(_ref("Health"), "down")}, (421,), True)}},
        "/api/v1/ready": {"get": public | {"summary": "for load balancers: 200 unless down (public)",
                                           "responses": _responses({"200": _json(obj), "503": _json(obj, "down")}, (421,),
                                                                   True)}},
        "/api/v1/events": {"get": {"summary": "server-sent events: edits, apply progress, jobs",
                                   "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                                                  {"name": "timeout", "in": "query",
                                                   "schema": {"type": "number", "minimum": 0, "maximum": 3600}}],
                                   "responses": _responses({"200": _json({"type": "string"}, "a stream of events", None,
                                                                         "text/event-stream")}, READ)}},
        "/api/v1/approvals": {
            "get": {"summary": "destroys/replacements the watcher holds, and approvals not yet used",
                    "responses": _responses({"200": _json({"type": "object", "properties": {
                        "held": strings, "approved": strings}})}, (*READ, 409, 422))},
            "post": {"summary": "approve held changes (no refs: all that are held); the watcher applies them",
                     "requestBody": {"required": False, "content": {"application/json": {"schema": refs}}},
                     "responses": _responses({"200": _json({"type": "object", "properties": {"approved": strings}})},
                                             WRITE)}},
        "/api/v1/manifests/{path}": {
            "parameters": [manifest],
            "get": {"summary": "a manifest file",
                    "responses": _responses({"200": _json({"description": "the file's YAML text, as it is"},
                                                          headers={"ETag": {"schema": {"type": "string"}}},
                                                          media="application/yaml")}, (*READ, 403, 404, 409))},
            "put": {"summary": "write a whole manifest file (validated first)",
                    "requestBody": {"required": True, "content": {"application/yaml": {"schema": _ref("Manifest")}}},
                    "responses": _responses({"200": _json(_ref("EditResult"))}, (*WRITE, 412))}},
        **_auth_paths(),
        "/api/v1/disks": {"get": {"summary": "the host's block devices (lsblk -J -b -O), read-only",
                                  "responses": _responses({"200": _json({"type": "object", "required": ["disks"],
                                                                         "properties": {"disks": {"type": "array",
                                                                                                  "items": obj}}})},
                                                          READ)}},
        "/api/v1/pools/types": {"get": {"summary": "pool drivers, zfs vdev types and roles, btrfs profiles",
                                        "responses": _responses({"200": _json(obj)}, READ)}},
        "/openapi.json": {"get": public | {"summary": "this document", "responses": _responses({"200": _json(obj)}, (421,), True)}},
        "/docs": {"get": public | {"summary": "a page listing the routes",
                                   "responses": _responses({"200": _json({"type": "string"}, media="text/html")}, (421,),
                                                           True)}},
    }


def _auth_paths() -> dict[str, Any]:
    public = {"security": []}
    text = {"type": "string"}
    login = {"type": "object", "additionalProperties": False, "required": ["username", "password"], "properties": {
        "username": {"type": "string", "pattern": ACCOUNT_NAME.pattern, "maxLength": 64},
        "password": {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD}},
        "example": {"username": "alice", "password": "correct horse battery"}}
    refresh = {"type": "object", "additionalProperties": False, "required": ["refresh_token"],
               "properties": {"refresh_token": text}}
    pair = {"200": _json(_ref("TokenPair"), headers={"Cache-Control": {"schema": text}})}
    login_codes = (400, 401, 403, 413, 415, 421, 422, 429, 503)  # 403: a foreign Origin
    token_name = {"name": "name", "in": "path", "required": True, "description": "the token's name",
                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}}
    no_content = {"204": {"description": "done"}}
    return {
        "/api/v1/auth/login": {"post": public | {
            "summary": "log in with an API account: a short-lived access token and a refresh token (public)",
            "requestBody": _body(login), "responses": _responses(pair, login_codes, True)}},
        "/api/v1/auth/refresh": {"post": public | {
            "summary": "a new token pair for a refresh token (the old pair stops working; public)",
            "requestBody": _body(refresh), "responses": _responses(pair, login_codes, True)}},
        "/api/v1/auth/logout": {"post": {"summary": "end this login: its access and refresh tokens are refused from now on",
                                         "responses": _responses(no_content, (*READ, 403, 409))}},
        "/api/v1/auth/me": {"get": {"summary": "who this token is: name, role, when it expires",
                                    "responses": _responses({"200": _json(_ref("Me"))}, READ)}},
        "/api/v1/tokens": {"get": {"summary": "the long-lived tokens: name, role, created, expires, last used (admin)",
                                   "responses": _responses({"200": _json({"type": "object", "required": ["items"],
                                                                          "properties": {"items": {
                                                                              "type": "array",
                                                                              "items": _ref("TokenInfo")}}})},
                                                           (*READ, 403))}},
        "/api/v1/tokens/{name}": {"parameters": [token_name],
                                  "delete": {"summary": "revoke a long-lived token (admin)",
                                             "responses": _responses(no_content, (*WRITE, 404))}},
    }


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
