"""Approvals over the API: what the watcher holds, and releasing it (as `converge approve`).

GET  /api/v1/approvals  -> {"held": [refs an approval would release], "approved": [recorded, not yet used]}
POST /api/v1/approvals  {"refs": ["dataset/tank/old"]} (none: all held) -> {"approved": [...]}
A ref that no approval releases (not pending, protected on the host) is a 409, nothing recorded."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import approvals, watch
from ..model import Ref
from .errors import ApiError
from .routes import authorize, optional_object, service


async def get_approvals(request: Request) -> Response:
    authorize(request, write=False)
    svc = service(request)
    held = await run_in_threadpool(watch.held_refs, svc.directory, svc.host, svc.root)
    return JSONResponse({"held": [str(r) for r in held],
                         "approved": sorted(str(r) for r in approvals.load(svc.directory))})


async def post_approvals(request: Request) -> Response:
    who = authorize(request, write=True)
    svc = service(request)
    body = await optional_object(request, '{"refs": ["kind/name", ...]}')
    raw = body.get("refs", [])
    if set(body) - {"refs"} or not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise ApiError(422, 'the body is {"refs": ["kind/name", ...]} (no refs: all that are held)')
    try:
        refs = [Ref.parse(r) for r in raw]
    except ValueError as e:
        raise ApiError(422, str(e)) from None
    chosen = await run_in_threadpool(watch.approve, svc.directory, refs, svc.host, svc.root)
    approved = [str(r) for r in chosen]
    if approved:
        svc.events.publish({"event": "approval", "approved": approved, "by": who})
    return JSONResponse({"approved": approved})
