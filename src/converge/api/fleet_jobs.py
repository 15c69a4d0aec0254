"""The fleet at once, from the central server: `GET /api/v1/fleet/plan` plans every host of the
inventory (`forks` at a time, one row per host with its plan), `POST /api/v1/fleet/apply` starts
a job that reconciles them (its report: one row per host; follow it at `/api/v1/jobs/ID` or in
the event stream). `limit=NAME,GROUP,TAG` selects hosts as the CLI's `--limit` does. A host that
fails is a row, never the end of the run. Destroys stay held: allow them host by host with the CLI."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ConvergeError
from .errors import ApiError
from .permissions import needs
from .routes import authorize, service
from .service import Job

PARAMETERS = ("limit", "forks")
DEFAULT_FORKS, MAX_FORKS = 10, 50
LIMIT_PATTERN = r"^[A-Za-z0-9_.,-]{1,1000}$"


def _options(request: Request) -> tuple[str | None, int]:
    query = request.query_params
    unknown = sorted(set(query) - set(PARAMETERS))
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0]!r}; this takes: {', '.join(PARAMETERS)}",
                       details=[{"parameter": unknown[0]}])
    forks = query.get("forks", str(DEFAULT_FORKS))
    if not forks.isdigit() or not 1 <= int(forks) <= MAX_FORKS:
        raise ApiError(400, f"forks is a number from 1 to {MAX_FORKS}, not {forks!r}", details=[{"parameter": "forks"}])
    return query.get("limit") or None, int(forks)


def _hosts(directory: str, limit: str | None) -> tuple[Any, list[Any]]:
    from ..fleet.commands import selected_hosts

    try:
        return selected_hosts(directory, limit)
    except ConvergeError as e:  # no inventory, or a limit that selects nothing
        raise ApiError(404 if limit else 409, str(e)) from None


def _row(outcome: Any) -> dict[str, Any]:
    return {"name": outcome.name, "address": outcome.address, "ok": outcome.ok, "result": outcome.result,
            "changes": outcome.changes, "seconds": round(outcome.seconds, 3), **outcome.data}


def fleet_plan(directory: str, limit: str | None, forks: int) -> dict[str, Any]:
    from .. import engine
    from ..fleet.run import planned, run_fleet

    config, hosts = _hosts(directory, limit)
    rows = [_row(o) for o in run_fleet(directory, config, hosts, lambda t, o: planned(o, engine.plan(t)[0]), forks)]
    return {"hosts": rows, "total": len(rows), "failed": sum(not r["ok"] for r in rows),
            "with_changes": sum(r["ok"] and r["changes"] > 0 for r in rows)}


async def get_fleet_plan(request: Request) -> Response:
    authorize(request, write=False)
    limit, forks = _options(request)
    return JSONResponse(await run_in_threadpool(fleet_plan, service(request).directory, limit, forks))


def start_fleet_apply(svc: Any, limit: str | None, forks: int, by: str) -> dict[str, Any]:
    from .. import engine
    from ..fleet.run import applied, run_fleet

    config, hosts = _hosts(svc.directory, limit)  # a bad limit is this request's 404, not a failed job
    job = Job(id=uuid.uuid4().hex[:12], by=by)
    svc.jobs[job.id] = job

    def one(target: Any, outcome: Any) -> None:
        applied(outcome, engine.reconcile(target, lock_timeout=600))
        svc.events.publish({"event": "fleet", "job": job.id, "host": outcome.name, "result": outcome.result})

    def run() -> None:
        job.status = "running"
        try:
            rows = [_row(o) for o in run_fleet(svc.directory, config, hosts, one, forks)]
            job.report = {"hosts": rows, "failed": sum(not r["ok"] for r in rows)}
            job.status = "failed" if job.report["failed"] else "done"
        except Exception as e:  # reported on the job, never lost in a thread
            job.status, job.error = "failed", str(e)
        svc.events.publish({"event": "job", "job": job.id, "status": job.status, "by": job.by, "fleet": True})

    threading.Thread(target=run, daemon=True, name=f"fleet-apply-{job.id}").start()
    return job.as_dict()


@needs("operator")
async def post_fleet_apply(request: Request) -> Response:
    who = authorize(request, write=True)
    limit, forks = _options(request)
    job = await run_in_threadpool(start_fleet_apply, service(request), limit, forks, who)
    return JSONResponse(job, 202, headers={"Location": f"/api/v1/jobs/{job['id']}"})


def openapi_paths(responses: Any, json_of: Any, read: tuple[int, ...], write: tuple[int, ...]) -> dict[str, Any]:
    params = [{"name": "limit", "in": "query", "required": False, "description": "hosts, groups or tags, comma-separated",
               "schema": {"type": "string", "pattern": LIMIT_PATTERN}},
              {"name": "forks", "in": "query", "required": False, "description": "hosts at a time",
               "schema": {"type": "integer", "minimum": 1, "maximum": MAX_FORKS, "default": DEFAULT_FORKS}}]
    row = {"type": "object", "required": ["name", "address", "ok", "result", "changes", "seconds"], "properties": {
        "name": {"type": "string"}, "address": {"type": "string"}, "ok": {"type": "boolean"},
        "result": {"type": "string"}, "changes": {"type": "integer"}, "seconds": {"type": "number"},
        "plan": {"type": "object", "description": "the host's plan (docs/plan-json.md)"}}}
    plan = {"type": "object", "required": ["hosts", "total", "failed", "with_changes"], "properties": {
        "hosts": {"type": "array", "items": row}, "total": {"type": "integer"}, "failed": {"type": "integer"},
        "with_changes": {"type": "integer"}}}
    return {
        "/api/v1/fleet/plan": {"get": {
            "summary": "every host's plan, in parallel (one row per host; a failing host is a row)",
            "parameters": params, "responses": responses({"200": json_of(plan)}, (*read, 404, 409))}},
        "/api/v1/fleet/apply": {"post": {
            "summary": "start a job that reconciles every host (operator); destroys stay held",
            "parameters": params,
            "responses": responses({"202": json_of({"$ref": "#/components/schemas/Job"}, headers={
                "Location": {"schema": {"type": "string"}}})}, (*write, 404, 409))}},
    }
