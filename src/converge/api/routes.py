"""HTTP handlers. Each checks auth first, then calls the Service; errors become the one shape."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..edit import merge_patch
from ..model import Ref
from .auth import RateLimit, check_token
from .errors import ApiError
from .service import COLLECTIONS, Service, etag_of

ACTIONS = {("containers", "start"), ("containers", "stop"), ("containers", "restart"), ("pools", "scrub"),
           ("snapshots", "rollback"), ("datasets", "snapshots"), ("snapshot_policies", "run"), ("replications", "run")}


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authorize(request: Request, write: bool) -> str:
    """The caller's name. No tokens configured (loopback only): everyone is `local` and may write."""
    tokens = request.app.state.tokens()
    limits: dict[str, RateLimit] = request.app.state.limits
    client = client_of(request)
    if write:
        wait = limits["write"].take(client)
        if wait:
            raise ApiError(429, "too many writes; slow down", headers={"Retry-After": str(int(wait) + 1)})
    if not tokens:
        return "local"
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    found = check_token(tokens, token.strip()) if scheme.lower() == "bearer" and token else None
    if found is None:
        wait = limits["login"].take(client)
        if wait:
            raise ApiError(429, "too many failed logins", headers={"Retry-After": str(int(wait) + 1)})
        raise ApiError(401, "a valid bearer token is needed (converge token create NAME --role admin)",
                       headers={"WWW-Authenticate": "Bearer"})
    name, role = found
    if write and role != "admin":
        raise ApiError(403, f"token {name!r} has role {role}: writes need admin")
    return name


def collection_of(request: Request) -> tuple[str, str]:
    coll = request.path_params["collection"]
    if coll not in COLLECTIONS:
        raise ApiError(404, f"no collection {coll!r}; collections: {', '.join(COLLECTIONS)}")
    return coll, COLLECTIONS[coll]


async def body_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as e:
        raise ApiError(400, f"request body is not JSON: {e}") from None


def wants_apply(request: Request) -> bool:
    return request.query_params.get("apply", "").lower() in ("1", "true", "yes")


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- resources ---------------------------------------------------------------------------------
async def list_resources(request: Request) -> Response:
    authorize(request, write=False)
    coll, kind = collection_of(request)
    items = await run_in_threadpool(service(request).resources, kind)
    prefix = request.query_params.get("name", "")
    items = [i for i in items if i["name"].startswith(prefix)]
    if request.query_params.get("sort", "name") == "-name":
        items.reverse()
    try:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 100))
    except ValueError:
        raise ApiError(400, "offset and limit are integers") from None
    if offset < 0 or not 1 <= limit <= 1000:
        raise ApiError(400, "offset >= 0 and 1 <= limit <= 1000")
    return JSONResponse({"items": items[offset:offset + limit], "total": len(items), "offset": offset, "limit": limit})


async def get_resource(request: Request) -> Response:
    authorize(request, write=False)
    _, kind = collection_of(request)
    item = await run_in_threadpool(service(request).resource, kind, request.path_params["name"])
    return JSONResponse(item, headers={"ETag": item["etag"]})


async def create_resource(request: Request) -> Response:
    author = authorize(request, write=True)
    coll, kind = collection_of(request)
    body = await body_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ApiError(422, 'the body is a JSON object with "name" and the resource\'s fields')
    name, fields = body["name"], {k: v for k, v in body.items() if k != "name"}

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        if current is not None:
            raise ApiError(409, f"{kind} {name!r} is already declared; use PUT or PATCH")
        return fields

    result = await run_in_threadpool(service(request).mutate, kind, name, change, author,
                                     f"api: create {kind} {name}", None, wants_apply(request))
    return JSONResponse(result, 201)


async def put_resource(request: Request) -> Response:
    return await _edit(request, lambda current, body: body, "replace")


async def patch_resource(request: Request) -> Response:
    return await _edit(request, lambda current, body: merge_patch(current or {}, body), "update")


async def delete_resource(request: Request) -> Response:
    author = authorize(request, write=True)
    _, kind = collection_of(request)
    name = request.path_params["name"]

    def change(current: dict[str, Any] | None) -> None:
        if current is None:
            raise ApiError(404, f"{kind} {name!r} is not declared")
        return None

    result = await run_in_threadpool(service(request).mutate, kind, name, change, author,
                                     f"api: delete {kind} {name}", request.headers.get("if-match"),
                                     wants_apply(request))
    return JSONResponse(result)


async def _edit(request: Request, combine: Any, verb: str) -> Response:
    author = authorize(request, write=True)
    _, kind = collection_of(request)
    name = request.path_params["name"]
    body = await body_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "the body is a JSON object of the resource's fields")

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        if current is None and verb == "update":
            raise ApiError(404, f"{kind} {name!r} is not declared")
        return combine(current, body)  # type: ignore[no-any-return]

    result = await run_in_threadpool(service(request).mutate, kind, name, change, author,
                                     f"api: {verb} {kind} {name}", request.headers.get("if-match"),
                                     wants_apply(request))
    return JSONResponse(result)


# -- actions: each is a manifest edit (a state field or a request stamp) ------------------------
async def action(request: Request) -> Response:
    author = authorize(request, write=True)
    coll, verb, name = request.path_params["collection"], request.path_params["action"], request.path_params["name"]
    if (coll, verb) not in ACTIONS:
        raise ApiError(404, f"no action {verb!r} on {coll}")
    svc = service(request)
    if verb == "run":  # not an edit: run the policy/replication now, as its timer would
        return await run_now(request, svc, Ref(kind=COLLECTIONS[coll], name=name))
    kind, target, message = COLLECTIONS[coll], name, f"api: {verb} {COLLECTIONS[coll]} {name}"
    stamp = now_stamp()
    if coll == "containers":
        patch = {"state": "running"} if verb == "start" else {"state": "stopped"} if verb == "stop" \
            else {"restart_requested": stamp}
    elif coll == "pools":
        patch = {"scrub_requested": stamp}
    elif coll == "snapshots":
        dataset, _, snap = name.partition("@")
        if not snap:
            raise ApiError(400, "a snapshot id is DATASET@NAME")
        kind, target, patch = "dataset", dataset, {"rollback_to": snap, "rollback_requested": stamp}
    else:  # POST /datasets/{name}/snapshots {"name": "before-upgrade"}
        body = await body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ApiError(422, 'the body is {"name": SNAPSHOT_NAME}')
        kind, target = "snapshot", f"{name}@{body['name']}"
        fields = {k: v for k, v in body.items() if k != "name"}

        def create(current: dict[str, Any] | None) -> dict[str, Any]:
            if current is not None:
                raise ApiError(409, f"snapshot {target!r} is already declared")
            return fields

        result = await run_in_threadpool(svc.mutate, kind, target, create, author, f"api: snapshot {target}",
                                         None, wants_apply(request))
        return JSONResponse(result, 201)

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        if current is None:
            raise ApiError(404, f"{kind} {target!r} is not declared")
        return merge_patch(current, patch)  # type: ignore[no-any-return]

    result = await run_in_threadpool(svc.mutate, kind, target, change, author, message, None, wants_apply(request))
    return JSONResponse(result)


async def run_now(request: Request, svc: Service, ref: Ref) -> Response:
    """POST .../NAME/run [{"at": ISO8601}]: `converge run REF`; answers with what it did."""
    from ..resources.policies.run import parse_at
    from ..resources.policies.run import run as run_ref

    body = await body_json(request) or {}
    if not isinstance(body, dict) or not isinstance(body.get("at", ""), str):
        raise ApiError(422, 'the body is empty or {"at": "2026-11-28T14:00:00Z"}')
    actions = await run_in_threadpool(run_ref, svc.target(), ref, parse_at(body.get("at")), 60.0)
    return JSONResponse({"ref": str(ref), "actions": [{"action": a.verb, "snapshot": a.snapshot, "detail": a.detail}
                                                      for a in actions]})


# -- manifests, plan, apply, jobs, facts, events -----------------------------------------------
async def get_manifest(request: Request) -> Response:
    authorize(request, write=False)
    path = service(request).manifest_path(request.path_params["path"])
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        raise ApiError(404, f"no manifest {request.path_params['path']!r}") from None
    return PlainTextResponse(text, media_type="application/yaml", headers={"ETag": etag_of(text)})


async def put_manifest(request: Request) -> Response:
    author = authorize(request, write=True)
    text = (await request.body()).decode("utf-8", errors="replace")
    result = await run_in_threadpool(service(request).put_manifest, request.path_params["path"], text, author,
                                     request.headers.get("if-match"))
    return JSONResponse(result)


async def get_plan(request: Request) -> Response:
    authorize(request, write=False)
    plan = await run_in_threadpool(service(request).plan)
    return JSONResponse(json.loads(plan.redacted().model_dump_json()))


async def post_apply(request: Request) -> Response:
    authorize(request, write=True)
    body = await body_json(request) or {}
    try:
        allow = [Ref.parse(r) for r in (body.get("allow_destroy", []) if isinstance(body, dict) else [])]
    except ValueError as e:
        raise ApiError(422, str(e)) from None
    job = service(request).start_apply(allow)
    return JSONResponse(job, 202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


async def get_job(request: Request) -> Response:
    authorize(request, write=False)
    job = service(request).jobs.get(request.path_params["id"])
    if job is None:
        raise ApiError(404, "no such job")
    return JSONResponse(job.as_dict())


async def get_facts(request: Request) -> Response:
    authorize(request, write=False)
    svc = service(request)

    def read() -> str:
        target = svc.target()
        return engine_facts(target)

    return Response(await run_in_threadpool(read), media_type="application/json")


def engine_facts(target: Any) -> str:
    from .. import engine

    return engine.read_facts(target.host, None, target.config.settings).facts.model_dump_json()


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def events(request: Request) -> Response:
    """Server-sent events: apply progress, edits, jobs (and the watcher's reconciles)."""
    authorize(request, write=False)
    svc = service(request)
    try:
        seq = int(request.query_params.get("since", len(svc.events.items)))
        duration = float(request.query_params.get("timeout", 3600))
    except ValueError:
        raise ApiError(400, "since is an integer, timeout a number of seconds") from None

    async def stream() -> Any:
        nonlocal seq
        loop = asyncio.get_running_loop()
        end = loop.time() + duration
        while loop.time() < end:
            items = await run_in_threadpool(svc.events.since, seq, min(1.0, max(0.0, end - loop.time())))
            for item in items:
                seq = item["seq"] + 1
                yield f"id: {item['seq']}\nevent: {item.get('event', 'message')}\ndata: {json.dumps(item)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")
