"""The fleet in the API: `GET /api/v1/hosts` lists the inventory of converge.yaml (and its
Ansible inventory), `POST /api/v1/hosts/NAME/test` tests the connection to one host: reachable,
its key known, converge's required tools present (and which kinds' tools it has);
`GET /api/v1/hosts/NAME` is one host, with the last status its pull-mode agent posted;
`GET /api/v1/hosts/NAME/plan` is that host's plan (its manifest directories, its vars);
`GET /api/v1/hosts/NAME/COLLECTION[/RESOURCE]` lists that host's resources as the server's own
collections do (desired, actual, drift)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config import load_fleet
from ..errors import ConvergeError
from . import host_status, listing
from .errors import ApiError
from .routes import authorize, collection_of, service

REQUIRED = ("sh", "env", "tar", "mktemp", "mv")  # what converge itself runs on a remote host


def _listing(directory: str, now: float | None = None) -> list[dict[str, Any]]:
    _, hosts = load_fleet(directory)
    reported = host_status.statuses(directory, now)  # pull-mode agents' last reports (host_status.py)
    return [{"name": h.name, "address": h.address, "groups": sorted(h.groups), "tags": h.tags, "root": h.root,
             "manifests": [os.path.relpath(m, directory) for m in h.manifests], "source": h.source,
             "status": reported.get(h.name)}
            for h in (hosts[n] for n in sorted(hosts))]


async def get_hosts(request: Request) -> Response:
    authorize(request, write=False)
    hosts = await run_in_threadpool(_listing, service(request).directory, request.app.state.clock())
    return JSONResponse({"hosts": hosts, "total": len(hosts)})


async def get_host(request: Request) -> Response:
    authorize(request, write=False)
    name = request.path_params["name"]
    hosts = await run_in_threadpool(_listing, service(request).directory, request.app.state.clock())
    found = [h for h in hosts if h["name"] == name]
    if not found:
        raise ApiError(404, f"no host {name!r} in the inventory (hosts: {', '.join(h['name'] for h in hosts) or 'none'})")
    return JSONResponse(found[0])


def connection_test(directory: str, name: str) -> dict[str, Any]:
    from ..fleet.run import open_fleet_target
    from ..hosts.base import PACKAGES
    from ..resources import KINDS

    config, hosts = load_fleet(directory)
    if name not in hosts:
        raise ApiError(404, f"no host {name!r} in the inventory (hosts: {', '.join(sorted(hosts)) or 'none'})")
    answer: dict[str, Any] = {"name": name, "address": hosts[name].address, "reachable": False, "key_known": None,
                              "tools": {}, "missing": [], "error": None}
    started = time.monotonic()
    target = None
    try:
        target = open_fleet_target(directory, config, hosts[name])
        host = target.host
        tools = sorted({*REQUIRED, *PACKAGES, *(t for k in KINDS for t in k.tools)})
        answer["tools"] = {t: host.has(t) for t in tools}  # one round trip: the probe answers them all
        answer["reachable"], answer["key_known"] = True, True
        if hosts[name].address.startswith("ssh://"):  # what converge itself runs there (not on local or sim)
            answer["missing"] = [t for t in REQUIRED if not answer["tools"][t]]
    except ConvergeError as e:
        answer["error"] = str(e)
        if "host key" in str(e):
            answer["key_known"] = False
    finally:
        close = getattr(target.host, "close", None) if target is not None else None
        if close is not None:
            close()
    answer["ok"] = answer["reachable"] and not answer["missing"]
    answer["seconds"] = round(time.monotonic() - started, 3)
    return answer


def on_host(directory: str, name: str, read: Callable[[Any], Any]) -> Any:
    """`read(target)` for the inventory host `name`, its connection closed afterwards."""
    from ..fleet.run import open_fleet_target

    config, hosts = load_fleet(directory)
    if name not in hosts:
        raise ApiError(404, f"no host {name!r} in the inventory (hosts: {', '.join(sorted(hosts)) or 'none'})")
    target = open_fleet_target(directory, config, hosts[name])
    try:
        return read(target)
    finally:
        close = getattr(target.host, "close", None)
        if close is not None:
            close()


def host_plan(directory: str, name: str) -> dict[str, Any]:
    from .. import engine

    plan, _ = on_host(directory, name, engine.plan)
    return json.loads(plan.redacted().model_dump_json())  # type: ignore[no-any-return]


async def get_host_plan(request: Request) -> Response:
    authorize(request, write=False)
    return JSONResponse(await run_in_threadpool(host_plan, service(request).directory, request.path_params["name"]))


async def list_host_resources(request: Request) -> Response:
    authorize(request, write=False)
    _, kind = collection_of(request)
    svc = service(request)
    items = await run_in_threadpool(on_host, svc.directory, request.path_params["host"],
                                    lambda target: svc.resources(kind, target))
    return JSONResponse(listing.select(kind, items, request.query_params, listing.yaml_comments(svc.directory)))


async def get_host_resource(request: Request) -> Response:
    authorize(request, write=False)
    _, kind = collection_of(request)
    svc = service(request)
    item = await run_in_threadpool(on_host, svc.directory, request.path_params["host"],
                                   lambda target: svc.resource(kind, request.path_params["name"], target))
    return JSONResponse(item, headers={"ETag": item["etag"]})


async def post_host_test(request: Request) -> Response:
    authorize(request, write=True)  # it makes this server connect out: an admin's action
    return JSONResponse(await run_in_threadpool(connection_test, service(request).directory,
                                                request.path_params["name"]))


def openapi_paths(responses: Any, json_of: Any, read: tuple[int, ...], write: tuple[int, ...]) -> dict[str, Any]:
    from ..fleet.inventory import NAME_PATTERN

    host = {"type": "object", "required": ["name", "address"], "properties": {
        "name": {"type": "string"}, "address": {"type": "string"}, "groups": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}}, "root": {"type": ["string", "null"]},
        "manifests": {"type": "array", "items": {"type": "string"}}, "source": {"type": "string"},
        "status": {"oneOf": [{"type": "null"}, host_status.STORED_SCHEMA],
                   "description": "the last status its agent posted (POST /hosts/NAME/status), with its age"}}}
    test = {"type": "object", "required": ["name", "reachable", "ok"], "properties": {
        "name": {"type": "string"}, "address": {"type": "string"}, "reachable": {"type": "boolean"},
        "key_known": {"type": ["boolean", "null"]}, "ok": {"type": "boolean"},
        "tools": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "missing": {"type": "array", "items": {"type": "string"}}, "error": {"type": ["string", "null"]},
        "seconds": {"type": "number"}}}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME_PATTERN},
            "description": "a host of the inventory"}
    return {
        "/api/v1/hosts": {"get": {"summary": "the fleet: hosts of converge.yaml's inventory (and its Ansible inventory)",
                                  "responses": responses({"200": json_of({"type": "object", "required": ["hosts", "total"],
                                                                          "properties": {"hosts": {"type": "array", "items": host},
                                                                                         "total": {"type": "integer"}}})},
                                                         (*read, 409, 422))}},
        "/api/v1/hosts/{name}": {"parameters": [name], "get": {
            "summary": "one host of the inventory, with the last status its agent posted",
            "responses": responses({"200": json_of(host)}, (*read, 404, 409, 422))}},
        "/api/v1/hosts/{name}/plan": {"parameters": [name], "get": {
            "summary": "that host's plan (see docs/plan-json.md); an unreachable host is a 409",
            "responses": responses({"200": json_of({"type": "object"})}, (*read, 404, 409, 422))}},
        "/api/v1/hosts/{name}/test": {"parameters": [name], "post": {
            "summary": "test the connection to a host: reachable, its key known, converge's tools present",
            "responses": responses({"200": json_of(test)}, (*write, 404))}},
    }
