"""Status reports of pull-mode agents: `POST /api/v1/hosts/NAME/status`.

A host that converges itself (`converge watch --report URL`, see agent.py and status_push.py)
posts `{host, last_apply: {at, result, changes}, drift, converged, version}` after every
reconcile. The caller is an agent token made for that host (`converge token create NAME
--role agent --host HOST`): it may post that host's status and nothing else (403 for another
host, and for every other route: permissions.py). An admin token may post any host's.

Statuses are kept in DIR/.converge/host-status.json (never in git), written atomically under a
file lock; `GET /api/v1/hosts` and `/hosts/NAME` show each host's last status and its age."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import AGENT, parse_iso
from .errors import ApiError
from .jsonfile import JsonFile
from .permissions import needs

FILENAME = "host-status.json"
RESULTS = ("ok", "changed", "held", "failed", "invalid", "error")
MAX_BODY = 16 * 1024  # a status is a few hundred bytes
AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TEXT = {"type": "string", "maxLength": 200}
STATUS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["host", "last_apply", "drift", "converged", "version"],
    "properties": {
        "host": {"type": "string", "maxLength": 63, "description": "the host's name: the NAME of the path"},
        "last_apply": {"type": "object", "additionalProperties": False, "required": ["at", "result", "changes"],
                       "properties": {"at": {"type": "string", "format": "date-time", "pattern": AT.pattern},
                                      "result": {"enum": list(RESULTS)},
                                      "changes": {"type": "integer", "minimum": 0, "maximum": 1_000_000}}},
        "drift": {"type": "integer", "minimum": 0, "maximum": 1_000_000,
                  "description": "changes still between the manifests and the host after the reconcile"},
        "converged": {"type": "boolean"},
        "version": TEXT}}


def store(directory: str) -> JsonFile:
    return JsonFile(directory, FILENAME, lambda name, entry: parse_iso(str(entry["received"])))


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ApiError(422, f"{field}: a whole number from 0 to 1000000, not {value!r}")
    return value


def parse_status(body: Any, name: str) -> dict[str, Any]:
    """The status as stored, or a 422 naming the field that is wrong and what is allowed."""
    if not isinstance(body, dict):
        raise ApiError(422, "the body is a JSON object: {host, last_apply: {at, result, changes}, drift, converged, version}")
    missing = [k for k in STATUS_SCHEMA["required"] if k not in body]
    extra = sorted(set(body) - set(STATUS_SCHEMA["properties"]))
    if missing or extra:
        raise ApiError(422, f"missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'}")
    if body["host"] != name:
        raise ApiError(422, f"host: {body['host']!r} is not the host of the path ({name!r})")
    apply = body["last_apply"]
    if not isinstance(apply, dict) or set(apply) != {"at", "result", "changes"}:
        raise ApiError(422, "last_apply: an object of exactly at, result, changes")
    if not isinstance(apply["at"], str) or not AT.match(apply["at"]):
        raise ApiError(422, f"last_apply.at: an ISO 8601 time with its zone (2026-01-01T12:00:00Z), not {apply['at']!r}")
    try:
        parse_iso(apply["at"])
    except ValueError:
        raise ApiError(422, f"last_apply.at: {apply['at']!r} is no valid time") from None
    if apply["result"] not in RESULTS:
        raise ApiError(422, f"last_apply.result: one of {', '.join(RESULTS)}, not {apply['result']!r}")
    if not isinstance(body["converged"], bool):
        raise ApiError(422, f"converged: true or false, not {body['converged']!r}")
    if not isinstance(body["version"], str) or len(body["version"]) > 200:
        raise ApiError(422, "version: a string of up to 200 characters")
    return {"host": name, "drift": _integer(body["drift"], "drift"), "converged": body["converged"],
            "version": body["version"], "last_apply": {"at": apply["at"], "result": apply["result"],
                                                       "changes": _integer(apply["changes"], "last_apply.changes")}}


def with_age(entry: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """A stored status and how old it is (seconds since the server received it)."""
    if entry is None:
        return None
    return {**entry, "age_seconds": max(0, round(now - parse_iso(entry["received"])))}


def statuses(directory: str, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Every host's last status with its age (a broken file is a 503, never an empty fleet)."""
    now = time.time() if now is None else now
    try:
        data = store(directory).read()
    except Exception as e:  # StoreError: say so rather than show every host as silent
        raise ApiError(503, f"the host statuses cannot be read: {e}") from None
    return {name: with_age(entry, now) for name, entry in data.items()}  # type: ignore[misc]


def record(directory: str, name: str, status: dict[str, Any], now: float) -> dict[str, Any]:
    from .auth import iso

    entry = {**status, "received": iso(now)}
    store(directory).update(lambda data: data.__setitem__(name, entry))
    return entry


@needs(AGENT)
async def post_status(request: Request) -> Response:
    """An agent posts its own host's status (its token names the host); an admin any host's."""
    from ..fleet.inventory import NAME_PATTERN
    from .routes import service

    name = request.path_params["name"]
    identity = request.state.identity
    if identity.role == AGENT:
        tokens = request.app.state.token_store.tokens()
        allowed = tokens.get(identity.name, {}).get("host")
        if allowed != name:
            raise ApiError(403, f"the agent token {identity.name!r} posts the status of {allowed!r} only, not {name!r}")
    if not re.fullmatch(NAME_PATTERN, name):
        raise ApiError(422, f"host {name!r}: letters, digits, '-', '_', '.' ({NAME_PATTERN})")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"a status is at most {MAX_BODY} bytes")
    import json

    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"the body is not JSON: {e}") from None
    status = parse_status(body, name)
    clock = request.app.state.clock
    entry = await run_in_threadpool(record, service(request).directory, name, status, clock())
    return JSONResponse(with_age(entry, clock()))


def openapi_paths(responses: Any, json_of: Any, write: tuple[int, ...]) -> dict[str, Any]:
    from ..fleet.inventory import NAME_PATTERN

    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME_PATTERN},
            "description": "the host whose status this is"}
    return {"/api/v1/hosts/{name}/status": {"parameters": [name], "post": {
        "summary": "a pull-mode agent's status after a reconcile (an agent token for this host, or admin)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": STATUS_SCHEMA}}},
        "responses": responses({"200": json_of(STORED_SCHEMA)}, (*write, 400, 413, 422))}}}


STORED_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["host", "last_apply", "drift", "converged", "version", "received", "age_seconds"],
    "properties": {**STATUS_SCHEMA["properties"], "received": {"type": "string"},
                   "age_seconds": {"type": "integer", "minimum": 0}}}
