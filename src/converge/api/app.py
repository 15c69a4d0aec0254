"""The Starlette application: a plain list of routes, one error shape, OpenAPI at /openapi.json.

Resource names that contain `/` or `@` (datasets, snapshots) are written into the URL as they
are: `/api/v1/datasets/tank/media`, `/api/v1/snapshots/tank/media@daily/rollback` (`%40` works too)."""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..config import load_config
from ..errors import ConvergeError
from . import approvals, routes
from .auth import RateLimit, TokenStore
from .errors import ApiError, handle
from .guard import Guard, allowed_names, is_loopback
from .openapi import openapi_document
from .service import COLLECTIONS, Service


def _bind(handler: Any, collection: str) -> Any:
    async def endpoint(request: Request) -> Response:
        request.path_params["collection"] = collection
        return await handler(request)  # type: ignore[no-any-return]

    return endpoint


def _resource_routes(base: str, collection: str) -> list[Route]:
    prefix = f"{base}/{collection}"
    return [
        Route(prefix, _bind(routes.list_resources, collection), methods=["GET"]),
        Route(prefix, _bind(routes.create_resource, collection), methods=["POST"]),
        Route(f"{prefix}/{{name:path}}/{{action:str}}", _bind(routes.action, collection), methods=["POST"]),
        Route(f"{prefix}/{{name:path}}", _bind(routes.get_resource, collection), methods=["GET"]),
        Route(f"{prefix}/{{name:path}}", _bind(routes.put_resource, collection), methods=["PUT"]),
        Route(f"{prefix}/{{name:path}}", _bind(routes.patch_resource, collection), methods=["PATCH"]),
        Route(f"{prefix}/{{name:path}}", _bind(routes.delete_resource, collection), methods=["DELETE"]),
    ]


def _whole_path(route: Route) -> Route:
    """Starlette ends a route's pattern with `$`, which also matches before a final newline: a
    trailing %0A would address another resource (`br0\n` -> `br0`). `\\Z` is the very end."""
    pattern = route.path_regex.pattern
    route.path_regex = re.compile(pattern.removesuffix("$") + r"\Z", route.path_regex.flags)
    return route


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def docs(request: Request) -> Response:
    doc = openapi_document()
    rows = "".join(f"<tr><td><code>{m.upper()}</code></td><td><code>{p}</code></td><td>{op.get('summary', '')}</td></tr>"
                   for p, ops in doc["paths"].items() for m, op in ops.items() if isinstance(op, dict))
    return HTMLResponse(f"<!doctype html><title>converge API</title><h1>converge API</h1>"
                        f"<p>OpenAPI document: <a href='/openapi.json'>/openapi.json</a></p>"
                        f"<table border=1 cellpadding=4>{rows}</table>")


def create_app(directory: str, host: str | None = None, root: str | None = None, auto_apply: bool = False,
               write_rate: float = 20.0, write_burst: int = 60, listen: str = "127.0.0.1:8470",
               allowed_hosts: list[str] | None = None, streams_per_token: int = 8,
               keepalive: float = 15.0) -> Starlette:
    """The API over DIR. Requests are checked by guard.Guard (Host, Origin, token, rate limits)
    against the token store DIR/.converge/tokens.json; `listen` is the address it is served on."""
    base = "/api/v1"
    route_list = [
        Route(f"{base}/health", routes.health, methods=["GET"]),
        Route(f"{base}/plan", routes.get_plan, methods=["GET"]),
        Route(f"{base}/apply", routes.post_apply, methods=["POST"]),
        Route(f"{base}/jobs/{{id:str}}", routes.get_job, methods=["GET"]),
        Route(f"{base}/facts", routes.get_facts, methods=["GET"]),
        Route(f"{base}/events", routes.events, methods=["GET"]),
        Route(f"{base}/approvals", approvals.get_approvals, methods=["GET"]),
        Route(f"{base}/approvals", approvals.post_approvals, methods=["POST"]),
        Route(f"{base}/manifests/{{path:path}}", routes.get_manifest, methods=["GET"]),
        Route(f"{base}/manifests/{{path:path}}", routes.put_manifest, methods=["PUT"]),
        *[r for collection in COLLECTIONS for r in _resource_routes(base, collection)],
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]
    service = Service(directory, host, root, auto_apply)
    if allowed_hosts is None:
        allowed_hosts = load_config(service.directory).api.allowed_hosts
    address = listen.rpartition(":")[0].strip("[]") if ":" in listen else listen
    limits = {"write": RateLimit(write_rate, write_burst), "login": RateLimit(1.0, 10),
              "anonymous": RateLimit(10.0, 60)}
    guard = Middleware(Guard, store=TokenStore(service.directory), allowed=allowed_names(listen, allowed_hosts),
                       loopback=is_loopback(address or "127.0.0.1"), limits=limits)
    # Our own errors are answered by the exception middleware; anything else (a bug) by the
    # server-error handler, still in the one error shape.
    route_list = [_whole_path(r) for r in route_list]
    app = Starlette(routes=route_list, middleware=[guard],
                    exception_handlers={ApiError: handle, ConvergeError: handle, HTTPException: handle, Exception: handle})
    app.state.service = service
    app.state.streams = routes.StreamSlots(streams_per_token)
    app.state.keepalive = keepalive
    return app


def run(app: Any, listen: str) -> None:  # pragma: no cover - exercised by the real serve test
    import uvicorn

    host, _, port = listen.rpartition(":")
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any loopback peer as
    # the client address, and every request could pose as a new client to the rate limits.
    uvicorn.run(app, host=host.strip("[]") or "127.0.0.1", port=int(port), log_level="warning",
                proxy_headers=False)
