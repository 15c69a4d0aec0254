"""HTTP handlers. Each checks auth first, then calls the Service; errors become the one shape."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..edit import merge_patch
from ..model import Ref
from ..resources import BY_KIND
from ..resources.base import KindAction
from . import accounts, listing
from .errors import ApiError
from .permissions import needs
from .service import Service, collections, etag_of, read_manifest


def kind_action(collection: str, verb: str) -> KindAction | None:
    """The action a kind declares for this collection and verb (the registry is the only list)."""
    kind = collections().get(collection)
    return BY_KIND[kind].actions.get(verb) if kind else None


def action_role(request: Request) -> str:
    """The least role POST /COLLECTION/NAME/ACTION needs (see permissions.py): an operator runs every
    action a kind does not mark admin_only (a rollback discards newer data, a password is a secret)."""
    declared = kind_action(request.path_params.get("collection", ""), request.path_params.get("action", ""))
    return "admin" if declared is None or declared.admin_only else "operator"


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def authorize(request: Request, write: bool) -> str:
    """The caller's name. guard.Guard has checked the token, and app._methods the role the handler
    needs (permissions.py); a handler reached some other way still needs admin to write."""
    identity = request.state.identity
    if write and not getattr(request.state, "permitted", False) and identity.role != "admin":
        raise ApiError(403, f"{identity.name} may not write here: it needs an admin token")
    return str(identity.name)


def collection_of(request: Request) -> tuple[str, str]:
    coll, known = request.path_params["collection"], collections()
    if coll not in known:
        raise ApiError(404, f"no collection {coll!r}; collections: {', '.join(known)}")
    return coll, known[coll]


MAX_DEPTH = 32  # no manifest nests deeper; a deeper body would only reach recursion limits
MAX_BODY = 1 << 20  # a manifest file, or one resource's fields, is far smaller


async def body_bytes(request: Request) -> bytes:
    """The body, refused (413) as soon as it is longer than MAX_BODY, without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"the body is {declared} bytes; at most {MAX_BODY} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"the body is longer than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def optional_object(request: Request, shape: str) -> dict[str, Any]:
    """A body that may be left out ({}); when sent it is a JSON object (`null` is not one)."""
    raw = await body_bytes(request)
    if not raw:
        return {}
    body = parse_json(request, raw)
    if not isinstance(body, dict):
        raise ApiError(422, f"the body is {shape}, or none at all")
    return body


async def ref_list_body(request: Request, key: str, usage: str) -> list[Ref]:
    """A body that is left out or {KEY: ["kind/name", ...]}; anything else is a 422 saying `usage`."""
    body = await optional_object(request, f'{{"{key}": ["kind/name", ...]}}')
    raw = body.get(key, [])
    if set(body) - {key} or not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise ApiError(422, usage)
    try:
        return [Ref.parse(r) for r in raw]
    except ValueError as e:
        raise ApiError(422, str(e)) from None


async def body_json(request: Request) -> Any:
    raw = await body_bytes(request)
    return parse_json(request, raw) if raw else None


def parse_json(request: Request, raw: bytes) -> Any:
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":  # a web page can send text/plain anywhere without asking first
        raise ApiError(415, f"the body is JSON: send it with Content-Type: application/json (not {media or 'none'!r})")
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"request body is not JSON: {e}") from None
    except RecursionError:
        value = None
        deep = True
    else:
        deep = _too_deep(value)
    if deep:
        raise ApiError(400, f"request body nests deeper than {MAX_DEPTH} levels")
    return value


def _too_deep(value: Any) -> bool:
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [v for x in level if isinstance(x, dict | list) for v in (x.values() if isinstance(x, dict) else x)]
        if not level:
            return False
    return True


def wants_apply(request: Request) -> bool:
    value = request.query_params.get("apply", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(400, f"apply={value!r}: allowed: true or false")
    return value in ("true", "1")


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- resources ---------------------------------------------------------------------------------
async def list_resources(request: Request) -> Response:
    authorize(request, write=False)
    coll, kind = collection_of(request)
    items = await run_in_threadpool(service(request).resources, kind)
    return JSONResponse(listing.select(kind, items, request.query_params,
                                       listing.yaml_comments(service(request).directory)))


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
@needs(action_role)
async def action(request: Request) -> Response:
    author = authorize(request, write=True)
    coll, verb, name = request.path_params["collection"], request.path_params["action"], request.path_params["name"]
    declared = kind_action(coll, verb)
    if declared is None:
        raise ApiError(404, f"no action {verb!r} on {coll}")
    svc = service(request)
    if declared.handler == "password":  # the secret file, then a stamp in the manifest
        return await accounts.set_password(request, svc, author, name)
    if declared.handler == "run":  # not an edit: run the policy/replication now, as its timer would
        return await run_now(request, svc, Ref(kind=collections()[coll], name=name))
    kind, target, message = collections()[coll], name, f"api: {verb} {collections()[coll]} {name}"
    stamp = now_stamp()
    if not declared.handler:
        patch: dict[str, Any] = {**declared.patch, **({declared.stamp: stamp} if declared.stamp else {})}
        if declared.options:  # e.g. stop {"timeout": SECONDS, "force": true}: how this one is done
            body = await body_json(request)
            if body is not None:
                if not isinstance(body, dict) or set(body) - set(declared.options):
                    raise ApiError(422, f"the body is an object of {', '.join(declared.options)}, all optional")
                patch[declared.options_stamp] = {"at": stamp, **body}
    elif declared.handler == "rollback":
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
    from ..runs import parse_at
    from ..runs import run as run_ref

    body = await body_json(request) or {}
    if not isinstance(body, dict) or not isinstance(body.get("at", ""), str):
        raise ApiError(422, 'the body is empty or {"at": "2026-11-28T14:00:00Z"}')
    actions = await run_in_threadpool(run_ref, svc.target(), ref, parse_at(body.get("at")), 60.0)
    return JSONResponse({"ref": str(ref), "actions": [{"action": a.verb, "snapshot": a.snapshot, "detail": a.detail}
                                                      for a in actions]})


# -- manifests, plan, apply, jobs, facts, events -----------------------------------------------
async def get_manifest(request: Request) -> Response:
    authorize(request, write=False)
    rel = request.path_params["path"]
    path = service(request).manifest_path(rel)
    if not os.path.lexists(path):
        raise ApiError(404, f"no manifest {rel!r}")
    text = read_manifest(path, rel)
    return PlainTextResponse(text, media_type="application/yaml", headers={"ETag": etag_of(text)})


async def put_manifest(request: Request) -> Response:
    author = authorize(request, write=True)
    try:
        text = (await body_bytes(request)).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"the body is not UTF-8 (byte {e.start}); manifests are UTF-8 text") from None
    result = await run_in_threadpool(service(request).put_manifest, request.path_params["path"], text, author,
                                     request.headers.get("if-match"))
    return JSONResponse(result)


async def get_plan(request: Request) -> Response:
    authorize(request, write=False)
    plan = await run_in_threadpool(service(request).plan)
    return JSONResponse(json.loads(plan.redacted().model_dump_json()))


@needs("operator")
async def post_apply(request: Request) -> Response:
    who = authorize(request, write=True)
    allow = await ref_list_body(request, "allow_destroy", 'the body is {"allow_destroy": ["kind/name", ...]}, or none at all')
    job = service(request).start_apply(allow, by=who)
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
    """The host's facts with sensitive fields (container env) masked, as plans mask them."""
    from .. import engine
    from ..planner.build import redact_sensitive
    from ..resources import BY_KIND

    facts = engine.read_facts(target.host, None, target.config.settings).facts
    for kind, observed in facts.resources.items():
        for name, obs in observed.items():
            observed[name] = obs.model_copy(update={"spec": redact_sensitive(BY_KIND[kind].spec, obs.spec)})
    return facts.model_dump_json()


class StreamSlots:
    """At most `limit` open event streams per caller: a stream costs no thread, but each holds a
    connection and a waiter. Used on the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = {}

    def acquire(self, who: str) -> bool:
        if self.open.get(who, 0) >= self.limit:
            return False
        self.open[who] = self.open.get(who, 0) + 1
        return True

    def release(self, who: str) -> None:
        self.open[who] -= 1
        if not self.open[who]:
            del self.open[who]


class SlotStream(StreamingResponse):
    """A streaming response that gives its slot back however it ends (done, disconnect, error)."""

    def __init__(self, body: Any, release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


async def events(request: Request) -> Response:
    """Server-sent events: apply progress, edits, jobs (and the watcher's reconciles). A stream
    waits on the event loop (no thread per stream); a comment every `keepalive` seconds finds
    clients that went away."""
    who = authorize(request, write=False)
    svc = service(request)
    try:
        seq = int(request.query_params.get("since", len(svc.events.items)))
        duration = float(request.query_params.get("timeout", 3600))
    except ValueError:
        raise ApiError(400, "since is an integer, timeout a number of seconds") from None
    slots: StreamSlots = request.app.state.streams
    if not slots.acquire(who):
        raise ApiError(429, f"{who} has {slots.limit} event streams open already; close one first",
                       headers={"Retry-After": "5"})
    keepalive: float = request.app.state.keepalive

    async def stream() -> Any:
        nonlocal seq
        loop = asyncio.get_running_loop()
        end = loop.time() + duration
        while end - loop.time() > 0:
            items = await svc.events.wait(seq, min(keepalive, end - loop.time()))
            for item in items:
                seq = item["seq"] + 1
                yield f"id: {item['seq']}\nevent: {item.get('event', 'message')}\ndata: {json.dumps(item)}\n\n"
            if not items and end - loop.time() > 0:
                yield ": keepalive\n\n"

    return SlotStream(stream(), lambda: slots.release(who), media_type="text/event-stream")
