"""The Starlette application: a plain list of routes, one error shape, OpenAPI at /openapi.json.

Resource names that contain `/` or `@` (datasets, snapshots) are written into the URL as they
are: `/api/v1/datasets/tank/media`, `/api/v1/snapshots/tank/media@daily/rollback` (`%40` works too)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from .. import web
from ..config import load_config
from ..errors import ConvergeError
from ..resources import BY_KIND
from . import approvals, fleet, fleet_jobs, hardware, health, history, host_status, login, permissions, routes, schedules, validate, websocket
from .apiusers import store as account_store
from .auth import RateLimit, TokenStore
from .errors import ApiError, handle
from .guard import Guard, allowed_names, is_loopback
from .openapi import openapi_document
from .service import Service, collections
from .sessions import Sessions


def _methods(path: str, handlers: dict[str, Any], collection: str | None = None) -> Route:
    """One route per path, whatever its methods: a method it lacks is a 405 with an Allow header
    that lists them all (separate routes would each answer with their own methods only)."""
    async def endpoint(request: Request) -> Response:
        handler = handlers["GET" if request.method == "HEAD" else request.method]  # Route answers 405 to others
        if collection is not None:
            request.path_params["collection"] = collection
        permissions.check(request, handler)  # the role the handler declares (permissions.py)
        return await handler(request)  # type: ignore[no-any-return]

    return Route(path, endpoint, methods=list(handlers))


def _resource_routes(base: str, collection: str) -> list[Route]:
    prefix = f"{base}/{collection}"
    return [
        _methods(prefix, {"GET": routes.list_resources, "POST": routes.create_resource}, collection),
        _methods(f"{prefix}/{{name:path}}/{{action:str}}", {"POST": routes.action}, collection),
        _methods(f"{prefix}/{{name:path}}", {m: _not_an_action(h, collection) for m, h in [
            ("GET", routes.get_resource), ("PUT", routes.put_resource), ("PATCH", routes.patch_resource),
            ("DELETE", routes.delete_resource)]}, collection),
    ]


def _host_resource_routes(base: str, collection: str) -> list[Route]:
    """An inventory host's resources, read only: its manifests are edited where they live."""
    prefix = f"{base}/hosts/{{host:str}}/{collection}"
    return [_methods(prefix, {"GET": fleet.list_host_resources}, collection),
            _methods(f"{prefix}/{{name:path}}", {"GET": fleet.get_host_resource}, collection)]


def _not_an_action(handler: Any, collection: str) -> Any:
    """`PUT /containers/web/start` reaches the resource route as the name `web/start`: when that is
    no name of the kind and ends in one of the collection's actions, it is the action's path, which
    only takes POST (405). A valid name (the dataset tank/snapshots) stays the resource's."""
    kind = BY_KIND[collections()[collection]]

    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        head, _, verb = name.rpartition("/")
        if head and verb in kind.actions:
            try:
                kind.check_name(name)
            except ValueError:
                raise ApiError(405, f"{request.method} is not allowed on an action; allowed: POST",
                               headers={"Allow": "POST"}) from None
        return await handler(request)  # type: ignore[no-any-return]

    return endpoint


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
               write_rate: float | None = None, write_burst: int | None = None, listen: str = "127.0.0.1:8470",
               allowed_hosts: list[str] | None = None, streams_per_token: int = 8,
               keepalive: float = 15.0, clock: Callable[[], float] = time.time) -> Starlette:
    """The API over DIR. Requests are checked by guard.Guard (Host, Origin, token, rate limits)
    against the token store DIR/.converge/tokens.json and the logins' sessions; `listen` is the
    address it is served on; `clock` tells the time tokens expire by (tests move it)."""
    base = "/api/v1"
    route_list = [
        _methods(f"{base}/health", {"GET": health.health}),
        _methods(f"{base}/auth/login", {"POST": login.login}),
        _methods(f"{base}/auth/refresh", {"POST": login.refresh}),
        _methods(f"{base}/auth/logout", {"POST": login.logout}),
        _methods(f"{base}/auth/me", {"GET": login.me}),
        _methods(f"{base}/tokens", {"GET": login.list_tokens}),
        _methods(f"{base}/tokens/{{name:str}}", {"DELETE": login.revoke_token}),
        _methods(f"{base}/ready", {"GET": health.ready}),
        _methods(f"{base}/plan", {"GET": routes.get_plan}),
        _methods(f"{base}/apply", {"POST": routes.post_apply}),
        _methods(f"{base}/jobs/{{id:str}}", {"GET": routes.get_job}),
        _methods(f"{base}/facts", {"GET": routes.get_facts}),
        _methods(f"{base}/events", {"GET": routes.events}),
        WebSocketRoute(websocket.PATH, websocket.endpoint),  # the same events; a plain GET of it is a 426
        _methods(websocket.PATH, {"GET": websocket.upgrade_required}),
        _methods(f"{base}/approvals", {"GET": approvals.get_approvals, "POST": approvals.post_approvals}),
        _methods(f"{base}/manifests/{{path:path}}", {"GET": routes.get_manifest, "PUT": routes.put_manifest}),
        _methods(f"{base}/history", {"GET": history.get_history}),
        _methods(f"{base}/history/{{commit:str}}/revert", {"POST": history.post_revert}),
        _methods(f"{base}/schedules", {"GET": schedules.get_schedules}),
        _methods(f"{base}/validate/{{path:path}}", {"POST": validate.post_validate}),
        _methods(f"{base}/disks", {"GET": hardware.get_disks}),
        _methods(f"{base}/pools/types", {"GET": hardware.get_pool_types}),  # before /pools/{name}
        _methods(f"{base}/hosts", {"GET": fleet.get_hosts}),
        _methods(f"{base}/hosts/{{name:str}}", {"GET": fleet.get_host}),
        _methods(f"{base}/hosts/{{name:str}}/status", {"POST": host_status.post_status}),
        _methods(f"{base}/hosts/{{name:str}}/test", {"POST": fleet.post_host_test}),
        _methods(f"{base}/hosts/{{name:str}}/plan", {"GET": fleet.get_host_plan}),
        *[r for collection in collections() for r in _host_resource_routes(base, collection)],
        _methods(f"{base}/fleet/plan", {"GET": fleet_jobs.get_fleet_plan}),
        _methods(f"{base}/fleet/apply", {"POST": fleet_jobs.post_fleet_apply}),
        *[r for collection in collections() for r in _resource_routes(base, collection)],
        _methods("/openapi.json", {"GET": openapi}),
        _methods("/docs", {"GET": docs}),
        *web.routes(),  # the web page: a static shell and its assets, all data through the API above
    ]
    service = Service(directory, host, root, auto_apply)
    settings = load_config(service.directory).api
    if allowed_hosts is None:
        allowed_hosts = settings.allowed_hosts
    address = listen.rpartition(":")[0].strip("[]") if ":" in listen else listen
    configured = settings.rate_limits
    write = RateLimit.per_minute(configured.writes_per_minute)
    if write_rate is not None or write_burst is not None:  # tests and benchmarks set the bucket directly
        write = RateLimit(write_rate or write.rate, write_burst or write.burst)
    limits = {"write": write, "read": RateLimit.per_minute(configured.reads_per_minute),
              "login": RateLimit.per_minute(configured.logins_per_minute), "anonymous": RateLimit.per_minute(configured.anonymous_per_minute),
              "account": RateLimit(configured.account_logins_per_minute / 60.0, configured.account_logins_per_minute)}
    sessions = Sessions(service.directory, settings.access_token_minutes * 60.0, settings.refresh_token_days * 86400.0)
    accounts = account_store(service.directory)
    token_store = TokenStore(service.directory)
    guard = Middleware(Guard, store=token_store, allowed=allowed_names(listen, allowed_hosts),
                       loopback=is_loopback(address or "127.0.0.1"), limits=limits, sessions=sessions,
                       accounts=accounts, clock=clock)
    # Our own errors are answered by the exception middleware; anything else (a bug) by the
    # server-error handler, still in the one error shape.
    route_list = [_whole_path(r) if isinstance(r, Route) else r for r in route_list]
    app = Starlette(routes=route_list, middleware=[guard],
                    exception_handlers={ApiError: handle, ConvergeError: handle, HTTPException: handle, Exception: handle})
    app.state.service, app.state.token_store = service, token_store
    app.state.health = health.HealthCache()
    app.state.streams = routes.StreamSlots(streams_per_token)
    app.state.keepalive = keepalive
    app.state.limits, app.state.sessions, app.state.accounts, app.state.clock = limits, sessions, accounts, clock
    return app


def run(app: Any, listen: str) -> None:  # pragma: no cover - exercised by the real serve test
    import uvicorn

    host, _, port = listen.rpartition(":")
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any loopback peer as
    # the client address, and every request could pose as a new client to the rate limits.
    uvicorn.run(app, host=host.strip("[]") or "127.0.0.1", port=int(port), log_level="warning",
                proxy_headers=False, ws_max_size=websocket.MAX_MESSAGE)
