"""Who may call what. Roles, from least to most: viewer (reads), operator (reads, actions and
stamps, plan and apply), admin (everything: resources, manifests, tokens, approvals).

A handler says the least role it needs with `@needs(ROLE)` (or a function of the request, for
routes whose actions differ); a handler that says nothing needs viewer to read (GET/HEAD) and
admin for anything else, so a new write route is admin-only until it says otherwise. The check
runs once, where the app dispatches to the handler (app._methods).

An agent token (auth.AGENT) reaches no role: only a handler declared `@needs(AGENT)` takes it
(and admin), and that handler checks the host the token is for (host_status.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from starlette.requests import Request

from .errors import ApiError

ROLES = ("viewer", "operator", "admin")
PUBLIC = "public"  # no token needed (login, refresh)
# anonymous: a loopback read while only the bootstrap token exists (guard.Guard); reads only
RANK = {"agent": -1, "anonymous": 0, "viewer": 0, "operator": 1, "admin": 2}
AGENT = "agent"
READS = frozenset({"GET", "HEAD"})

Handler = TypeVar("Handler", bound=Callable[..., Any])
Needed = str | Callable[[Request], str]


def needs(role: Needed) -> Callable[[Handler], Handler]:
    """Declare the least role a handler needs (a role, PUBLIC, or a function of the request)."""
    if isinstance(role, str) and role not in (*ROLES, PUBLIC, AGENT):
        raise ValueError(f"unknown role {role!r}")

    def mark(handler: Handler) -> Handler:
        cast(Any, handler).needs = role
        return handler

    return mark


def needed(handler: Any, request: Request) -> str:
    declared: Needed | None = getattr(handler, "needs", None)
    if declared is None:
        return "viewer" if request.method in READS else "admin"
    return declared(request) if callable(declared) else declared


def allows(role: str, least: str) -> bool:
    if least == AGENT:
        return role in (AGENT, "admin")
    return least == PUBLIC or RANK.get(role, -1) >= RANK[least]


def check(request: Request, handler: Any) -> None:
    """403 unless the caller's role reaches what the handler needs; marks the request as checked."""
    least = needed(handler, request)
    identity = getattr(request.state, "identity", None)
    if identity is None:  # a path guard.Guard lets through without a token (health, docs, login)
        if least != PUBLIC and request.method not in READS:
            raise ApiError(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    elif least != PUBLIC:
        if not allows(identity.role, least):
            raise ApiError(403, f"{identity.name} has role {identity.role}: {request.method} {request.url.path} "
                                f"needs {least}" + (" or admin" if least == "operator" else ""))
    request.state.permitted = True
