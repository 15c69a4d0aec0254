"""What every request passes before a handler: the Host it was sent to, the Origin of a write,
rate limits, and who the caller is.

- Host must name this server (localhost, the listen address, converge.yaml `api.allowed_hosts`):
  a page on another site reached through DNS rebinding sends its own name, and gets 421.
- A write that carries an Origin must come from an allowed host (403 otherwise).
- Who the caller is: a long-lived token (`cvg_...`, auth.py; refused once it expired) or the
  access token of a login (`cva_...`, sessions.py; its role is the account's, read each time).
  Which role a route needs is checked after routing (permissions.py). Reads without a token
  are allowed only as before tokens became mandatory: a loopback listener, a loopback peer, no
  token but the one `converge serve` created itself, and no API account.
- A token store that is missing, unreadable or corrupt refuses every token and anonymous read
  (503); an unreadable accounts or sessions file refuses logins and their tokens (503).
- Rate limits: requests without a token, and token checks not answered from the cache, each
  have their own bucket per client, taken before any hashing (a check that finds a valid token
  gives its share back); writes have a bucket per token, so nobody else's traffic spends the
  admin's budget."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import RateLimit, TokenStore, TokenStoreError, check_token, expired, expires_at
from .errors import ApiError, error_response
from .jsonfile import JsonFile, StoreError
from .sessions import ACCESS, Sessions

PUBLIC = frozenset({"/api/v1/health", "/api/v1/ready", "/openapi.json", "/docs", "/api/v1/auth/login",
                    "/api/v1/auth/refresh", "/"})
PUBLIC_PREFIX = "/ui/"  # the web page's assets (converge.web): no data, every API call it makes needs a token
READS = frozenset({"GET", "HEAD"})
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Identity:
    name: str
    role: str  # admin, operator, viewer, or anonymous
    session: str | None = None  # the login session of an access token
    expires: float | None = None  # when the token stops working (seconds since the epoch)


ANONYMOUS = Identity("anonymous", "anonymous")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_names(listen: str, configured: list[str]) -> frozenset[str]:
    address = listen.rpartition(":")[0].strip("[]").lower() if ":" in listen else listen.lower()
    unspecified = address in ("", "0.0.0.0", "::")  # not a name anyone sends
    return LOCAL_NAMES | {n.lower().strip("[]") for n in configured} | (set() if unspecified else {address})


def host_of(value: str) -> str | None:
    try:
        return urlsplit("//" + value if "//" not in value else value).hostname
    except ValueError:
        return None


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def retry(wait: float) -> dict[str, str]:
    return {"Retry-After": str(int(wait) + 1)}


class Guard:
    def __init__(self, app: ASGIApp, store: TokenStore, allowed: frozenset[str], loopback: bool,
                 limits: dict[str, RateLimit], sessions: Sessions, accounts: JsonFile,
                 clock: Callable[[], float]) -> None:
        self.app, self.store, self.allowed, self.loopback, self.limits = app, store, allowed, loopback, limits
        self.sessions, self.accounts, self.clock = sessions, accounts, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # websocket.py checks Host, Origin and the token (header or first message) with this guard
            scope.setdefault("state", {})["guard"] = self
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        limited: dict[str, str] = {}
        try:
            write = request.method not in READS
            self.check_host(request, write)
            if scope["path"] not in PUBLIC and not scope["path"].startswith(PUBLIC_PREFIX):
                identity = await self.authenticate(request, write)
                scope.setdefault("state", {})["identity"] = identity
                limited = self.spend(identity, client_of(request), write)
        except ApiError as e:
            await error_response(e.status, e.code, str(e), e.details, e.headers)(scope, receive, send)
            return
        if not limited:
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  *((k.lower().encode(), v.encode()) for k, v in limited.items())]}
            await send(message)

        await self.app(scope, receive, send_with_limits)

    def spend(self, identity: Identity, client: str, write: bool) -> dict[str, str]:
        """Take this request from its bucket (a write: the token's writes; a read: the token's
        reads, or the client's anonymous budget, taken already); the X-RateLimit-* headers."""
        if identity is ANONYMOUS:
            return self.limits["anonymous"].headers(client)
        bucket = "write" if write else "read"
        if not write:  # writes were taken in authenticate, after the role check
            self.take(bucket, identity.name, "too many reads; slow down")
        return self.limits[bucket].headers(identity.name)

    def check_host(self, request: Request, write: bool) -> None:
        name = host_of(request.headers.get("host", ""))
        if name not in self.allowed:
            raise ApiError(421, f"this server does not answer to Host {request.headers.get('host', '')!r}; "
                           "add the name to converge.yaml `api: {allowed_hosts: [...]}`", code="misdirected")
        origin = request.headers.get("origin")
        if write and origin is not None and host_of(origin) not in self.allowed:
            raise ApiError(403, f"writes from the web origin {origin!r} are refused", code="forbidden_origin")

    def take(self, bucket: str, who: str, message: str) -> None:
        wait = self.limits[bucket].take(who)
        if wait:
            raise ApiError(429, message, headers=retry(wait) | self.limits[bucket].headers(who))

    def tokens(self) -> dict[str, dict[str, Any]]:
        try:
            return self.store.tokens()
        except TokenStoreError as e:
            raise ApiError(503, f"authentication is unavailable: {e}", code="auth_unavailable") from None

    async def authenticate(self, request: Request, write: bool) -> Identity:
        client = client_of(request)
        header = request.headers.get("authorization")
        if header is None:
            self.take("anonymous", client, "too many requests without a token")
            tokens = self.tokens()
            if not write and self.loopback and is_loopback(client) and tokens and all(e.get("bootstrap") for e in tokens.values()) \
                    and not self.stored(self.accounts):
                return ANONYMOUS
            raise ApiError(401, "a valid bearer token is needed" + (" to write" if write else "") +
                           " (POST /api/v1/auth/login with an API account, the token printed by the first "
                           "`converge serve`, or `converge token create NAME --role admin`)",
                           headers={"WWW-Authenticate": "Bearer"})
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""  # another scheme is no token: checked as ""
        if token.startswith(ACCESS):
            identity = self.session_identity(token, client)
        else:
            identity = await self.token_identity(token, client)
        if write:
            self.take("write", identity.name, "too many writes; slow down")
        return identity

    @staticmethod
    def stored(file: JsonFile) -> dict[str, Any]:
        try:
            return file.read()
        except StoreError as e:
            raise ApiError(503, f"authentication is unavailable: {e}", code="auth_unavailable") from None

    async def token_identity(self, token: str, client: str) -> Identity:
        tokens = self.tokens()
        key = self.store.key(token)
        found = self.store.cached(tokens, key)
        if found is None:
            found = await self.verify(tokens, token, key, client)
        name, role = found
        now = self.clock()
        if expired(tokens[name], now):
            raise ApiError(401, f"the token {name!r} expired at {tokens[name]['expires']}; an admin can create a "
                                f"new one (`converge token create {name} --role {role} --expires 30d`)",
                           code="token_expired", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.store.due(name, now):
            await run_in_threadpool(self.store.touch, name, now)
        return Identity(name, role, expires=expires_at(tokens[name]))

    def session_identity(self, token: str, client: str) -> Identity:
        """The account behind a login's access token (a hash and a compare: no worker thread)."""
        try:
            found = self.sessions.check_access(token, self.clock())
        except StoreError as e:
            raise ApiError(503, f"authentication is unavailable: {e}", code="auth_unavailable") from None
        if found == "expired":
            raise ApiError(401, "the access token expired; get a new one with POST /api/v1/auth/refresh",
                           code="token_expired", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        account = self.stored(self.accounts).get(found[1]) if isinstance(found, tuple) else None
        if not isinstance(found, tuple) or account is None:
            self.take("login", client, "too many token checks; slow down")
            raise ApiError(401, "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"})
        sid, user, until = found
        return Identity(user, str(account["role"]), session=sid, expires=until)

    async def verify(self, tokens: dict[str, dict[str, Any]], token: str, key: bytes, client: str) -> tuple[str, str]:
        """Hash a token not in the cache, in a worker thread. Requests that bring the same token at
        the same time (a client's first burst) share one check and one unit of the login bucket."""
        shared, leader = self.store.join_check(key)
        if not leader:
            return await asyncio.wrap_future(shared)  # type: ignore[no-any-return]
        try:
            self.take("login", client, "too many token checks; slow down")
            found = await run_in_threadpool(check_token, tokens, token)  # the same work for any token
            if found is None:
                raise ApiError(401, "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"})
            self.limits["login"].give_back(client)  # only failed checks count
            self.store.remember(tokens, key, found[0])
            shared.set_result(found)
            return found
        except BaseException as e:
            shared.set_exception(e)
            raise
        finally:
            self.store.end_check(key)
