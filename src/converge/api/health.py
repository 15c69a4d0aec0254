"""/health and /ready: public, so they never run more than one check at a time and reuse an
answer for a few seconds (a flood of health checks must not become a flood of host reads).

status: ok (host read, nothing drifted or held, the last apply succeeded), degraded (drift,
held destroys, or the last apply failed), down (the host or the manifests cannot be read)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import engine
from ..model import Action
from .service import Service

CACHE_S = 5.0


def last_apply(service: Service) -> dict[str, Any] | None:
    """The newest apply this process saw: an API job, or a reconcile of the watcher in `serve --watch`."""
    for item in reversed(service.events.items):
        if item.get("event") == "job":
            return {"result": item["status"], "time": _stamp(item["time"]), "job": item["job"], "by": item.get("by", "")}
        if item.get("source") == "watch" and item.get("event") in ("reconcile", "invalid", "error"):
            failed = item["event"] != "reconcile" or bool(item.get("failed"))
            return {"result": "failed" if failed else "done", "time": _stamp(item["time"]),
                    "trigger": item.get("trigger"), "by": "watch"}
    return None


def _stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(service: Service) -> dict[str, Any]:
    reasons: list[str] = []
    answer: dict[str, Any] = {"status": "ok", "reasons": reasons, "host": {"reachable": False},
                              "last_apply": last_apply(service), "drift": None, "held": None}
    try:
        target = service.target()
        plan, _ = engine.plan(target)
    except Exception as e:  # anything that stops a plan is what makes the service down
        answer["status"] = "down"
        reasons.append(f"the host or the manifests cannot be read: {type(e).__name__}: {e}")
        return answer
    answer["host"] = {"reachable": True}  # public: no names or paths of the host
    answer["drift"] = sum(1 for c in plan.changes if not c.blocked)
    answer["held"] = sum(1 for c in plan.changes if c.blocked and c.action in (Action.DELETE, Action.REPLACE))
    if answer["drift"]:
        reasons.append(f"{answer['drift']} change(s) between the manifests and the host")
    if answer["held"]:
        reasons.append(f"{answer['held']} destroy(s) or replacement(s) held for an approval")
    if answer["last_apply"] and answer["last_apply"]["result"] == "failed":
        reasons.append("the last apply failed")
    if reasons:
        answer["status"] = "degraded"
    return answer


class HealthCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answer: dict[str, Any] | None = None
        self.at = 0.0

    def get(self, service: Service) -> dict[str, Any]:
        with self.lock:  # one check at a time; the others wait for its answer
            if self.answer is None or time.monotonic() - self.at > CACHE_S:
                self.answer, self.at = check(service), time.monotonic()
            return self.answer


def _cache(request: Request) -> HealthCache:
    return request.app.state.health  # type: ignore[no-any-return]


async def health(request: Request) -> Response:
    answer = await run_in_threadpool(_cache(request).get, request.app.state.service)
    return JSONResponse(answer, 503 if answer["status"] == "down" else 200)


async def ready(request: Request) -> Response:
    """For load balancers: 200 while the host and the manifests can be read, 503 when down."""
    answer = await run_in_threadpool(_cache(request).get, request.app.state.service)
    up = answer["status"] != "down"
    return JSONResponse({"ready": up, "status": answer["status"]}, 200 if up else 503)
