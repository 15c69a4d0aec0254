"""Login for API accounts, and the long-lived tokens' admin routes.

POST /api/v1/auth/login {"username", "password"} and POST /api/v1/auth/refresh {"refresh_token"}
answer {"access_token", "refresh_token", "token_type": "bearer", "expires_in", "role", "username"};
POST /api/v1/auth/logout ends the caller's session (204); GET /api/v1/auth/me says who the token
is. Failed logins spend a per-client and a per-account budget (429 with Retry-After when either
is empty); a success gives its share back. GET /api/v1/tokens and DELETE /api/v1/tokens/NAME
(admin) list and revoke the long-lived tokens."""

from __future__ import annotations

import threading
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import apiusers, auth
from .errors import ApiError
from .guard import client_of, retry
from .jsonfile import StoreError
from .permissions import PUBLIC, needs
from .routes import body_json
from .sessions import Issued

# argon2 takes tens of MiB for each verify: a burst of logins waits here instead of using them all at once
HASHING = threading.BoundedSemaphore(2)
INVALID = "wrong username or password"


def _body(value: Any, fields: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != set(fields) or not all(isinstance(value[f], str) for f in fields):
        raise ApiError(422, "the body is {" + ", ".join(f'"{f}": "..."' for f in fields) + "}")
    return value


def _spend(request: Request, bucket: str, who: str) -> None:
    limit = request.app.state.limits[bucket]
    wait = limit.take(who)
    if wait:
        raise ApiError(429, "too many failed logins; wait before trying again", headers=retry(wait))


def _answer(issued: Issued, role: str, now: float) -> JSONResponse:
    return JSONResponse({"access_token": issued.access_token, "refresh_token": issued.refresh_token,
                         "token_type": "bearer", "expires_in": max(0, round(issued.access_expires - now)),
                         "role": role, "username": issued.user}, headers={"Cache-Control": "no-store"})


def _accounts(request: Request) -> dict[str, Any]:
    try:
        return request.app.state.accounts.read()  # type: ignore[no-any-return]
    except StoreError as e:
        raise ApiError(503, f"login is unavailable: {e}", code="auth_unavailable") from None


def _verify(accounts: dict[str, Any], name: str, password: str) -> str | None:
    with HASHING:
        return apiusers.verify(accounts, name, password)


@needs(PUBLIC)
async def login(request: Request) -> Response:
    body = _body(await body_json(request), ("username", "password"))
    name, password = body["username"], body["password"]
    if not apiusers.NAME.match(name) or not 0 < len(password) <= apiusers.MAX_PASSWORD:
        raise ApiError(422, f"username is {apiusers.NAME_RULE}; password 1 to {apiusers.MAX_PASSWORD} characters")
    client = client_of(request)
    _spend(request, "login", client)
    _spend(request, "account", name)
    role = await run_in_threadpool(_verify, _accounts(request), name, password)
    if role is None:  # the same answer, after the same work, for an unknown name and a wrong password
        raise ApiError(401, INVALID, code="invalid_credentials")
    request.app.state.limits["login"].give_back(client)
    request.app.state.limits["account"].give_back(name)
    now = request.app.state.clock()
    issued = await run_in_threadpool(request.app.state.sessions.start, name, now)
    return _answer(issued, role, now)


@needs(PUBLIC)
async def refresh(request: Request) -> Response:
    token = _body(await body_json(request), ("refresh_token",))["refresh_token"]
    client = client_of(request)
    _spend(request, "login", client)
    now = request.app.state.clock()
    issued = await run_in_threadpool(request.app.state.sessions.refresh, token, now)
    role = None if issued is None else _accounts(request).get(issued.user, {}).get("role")
    if issued is None or role is None:
        raise ApiError(401, "the refresh token is not valid (expired, used already, or logged out); log in again",
                       code="invalid_refresh_token")
    request.app.state.limits["login"].give_back(client)
    return _answer(issued, str(role), now)


@needs("viewer")
async def logout(request: Request) -> Response:
    identity = request.state.identity
    if identity.session is None:
        raise ApiError(409, f"{identity.name} is a long-lived token, not a login: revoke it with "
                            f"DELETE /api/v1/tokens/{identity.name} or `converge token revoke {identity.name}`",
                       code="not_a_login")
    await run_in_threadpool(request.app.state.sessions.end, identity.session)
    return Response(status_code=204)


async def me(request: Request) -> Response:
    identity = request.state.identity
    expires = None if identity.expires is None else auth.iso(identity.expires)
    return JSONResponse({"name": identity.name, "role": identity.role, "expires": expires})


@needs("admin")
async def list_tokens(request: Request) -> Response:
    directory = request.app.state.service.directory
    return JSONResponse({"items": await run_in_threadpool(auth.list_tokens, directory)})


@needs("admin")
async def revoke_token(request: Request) -> Response:
    name = request.path_params["name"]
    identity = request.state.identity
    if identity.session is None and identity.name == name:  # no admin locks themselves out by accident
        raise ApiError(409, f"{name!r} is the token of this request: revoke it with another admin token or "
                            f"`converge token revoke {name}`", code="own_token")
    if not await run_in_threadpool(auth.revoke_token, request.app.state.service.directory, name):
        raise ApiError(404, f"no token named {name!r}")
    return Response(status_code=204)
