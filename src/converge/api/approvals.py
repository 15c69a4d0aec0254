"""Approvals over the API: what the watcher holds, and releasing it (as `converge approve`).

GET  /api/v1/approvals  -> {"held": [refs an approval would release], "approved": [recorded, not yet used]}
POST /api/v1/approvals  {"refs": ["dataset/tank/old"]} (none: all held) -> {"approved": [...]}
A ref that no approval releases (not pending, protected on the host) is a 409, nothing recorded."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import approvals, watch
from .routes import authorize, ref_list_body, service


async def get_approvals(request: Request) -> Response:
    authorize(request, write=False)
    svc = service(request)
    held = await run_in_threadpool(watch.held_refs, svc.directory, svc.host, svc.root)
    return JSONResponse({"held": [str(r) for r in held],
                         "approved": sorted(str(r) for r in approvals.load(svc.directory))})


async def post_approvals(request: Request) -> Response:
    who = authorize(request, write=True)
    svc = service(request)
    refs = await ref_list_body(request, "refs", 'the body is {"refs": ["kind/name", ...]} (no refs: all that are held)')
    chosen = await run_in_threadpool(watch.approve, svc.directory, refs, svc.host, svc.root)
    approved = [str(r) for r in chosen]
    if approved:
        svc.events.publish({"event": "approval", "approved": approved, "by": who})
    return JSONResponse({"approved": approved})
