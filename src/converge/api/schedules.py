"""GET /api/v1/schedules: when each snapshot policy and replication runs next and each pool's next
scrub, the `info:` lines of `converge plan`, as {"lines": [...]} (ref first: "pool/tank: next scrub ...")."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import engine
from .routes import authorize, service


def lines(directory_service: Any) -> list[str]:
    from ..resources.policies.info import info_lines

    _, ctx = engine.plan(directory_service.target())
    return info_lines(ctx)


async def get_schedules(request: Request) -> Response:
    authorize(request, write=False)
    return JSONResponse({"lines": await run_in_threadpool(lines, service(request))})


def openapi_paths(responses: Any, json_body: Any, read: tuple[int, ...]) -> dict[str, Any]:
    return {"/api/v1/schedules": {"get": {
        "summary": "next runs of snapshot policies and replications, next scrubs (the info lines of `converge plan`)",
        "responses": responses({"200": json_body({"type": "object", "required": ["lines"], "properties": {
            "lines": {"type": "array", "items": {"type": "string"}}}})}, (*read, 409, 422))}}}
