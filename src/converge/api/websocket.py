"""/api/v1/ws: the events of /api/v1/events (edits, apply progress per change, jobs, the watcher's
reconciles, drift and held destroys) over a WebSocket, with a subscription filter.

Authentication is the SSE route's token check (the same guard), given the token either in
the handshake's `Authorization: Bearer` header or, from clients that cannot set headers (a
browser), as the first message `{"token": "cvg_..."}`. Never in the URL: URLs end up in logs.

Messages from the client (JSON objects):
- `{"token": "..."}` first, when the handshake had no Authorization header; it may carry a
  `subscribe` too. A first message without a token is checked as a request without one.
- `{"subscribe": {"events": [...], "kinds": [...], "names": [...], "since": SEQ}}`, at any
  time: replaces the filter. Each list given must match: `events` the event's type (apply,
  edit, job, reconcile, drift, change, ...), `kinds` and `names` (shell patterns: `tank/*`)
  a resource the event concerns (its ref, applied/held/failed/approved refs, a job's changes).
  An event that concerns no resource never matches a `kinds` or `names` filter. `since`
  replays from that event number; by default the stream starts with the next event.
Messages from the server: each event as the SSE stream has it (`seq`, `time`, `event`, ...);
`{"event": "subscribed", "identity", "filter", "seq"}` after authentication and after every
subscribe; `{"event": "error", "error": {code, message, details}}` for a bad message (the
stream goes on) or a refusal, which then closes with code 4000 + the HTTP status (4401, 4429)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..resources import BY_KIND
from . import permissions
from .errors import ApiError, error_response

PATH = "/api/v1/ws"
FIRST_MESSAGE_S = 10.0  # how long a handshake without a token may wait before its first message
MAX_MESSAGE = 1 << 16  # a client sends a token and filters: nothing near this size
_REF_LISTS = ("applied", "held", "failed", "approved", "refs")


@dataclass
class Subscription:
    events: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def matches(self, item: dict[str, Any]) -> bool:
        if self.events and item.get("event") not in self.events:
            return False
        if not self.kinds and not self.names:
            return True
        return any((not self.kinds or kind in self.kinds) and (not self.names or any(fnmatchcase(name, p) for p in self.names))
                   for kind, name in refs_of(item))

    def as_dict(self) -> dict[str, list[str]]:
        return {"events": self.events, "kinds": self.kinds, "names": self.names}


def refs_of(item: dict[str, Any]) -> list[tuple[str, str]]:
    """The (kind, name) of every resource an event concerns."""
    texts = [item["ref"]] if isinstance(item.get("ref"), str) else []
    for key in _REF_LISTS:
        if isinstance(item.get(key), list):
            texts += [r for r in item[key] if isinstance(r, str)]
    if isinstance(item.get("changes"), list):  # the watcher's drift report: [{"ref": ...}, ...]
        texts += [c["ref"] for c in item["changes"] if isinstance(c, dict) and isinstance(c.get("ref"), str)]
    return [(kind, name) for kind, sep, name in (t.partition("/") for t in texts) if sep]


def parse_subscribe(value: Any) -> tuple[Subscription, int | None]:
    """A subscribe message's filter and `since`; ApiError(422) saying what is wrong."""
    if not isinstance(value, dict):
        raise ApiError(422, 'subscribe is an object: {"events": [...], "kinds": [...], "names": [...], "since": SEQ}')
    unknown = sorted(set(value) - {"events", "kinds", "names", "since"})
    if unknown:
        raise ApiError(422, f"subscribe does not take {unknown[0]!r}; it takes events, kinds, names and since",
                       details=[{"path": f"subscribe.{unknown[0]}"}])
    lists = {}
    for key in ("events", "kinds", "names"):
        got = value.get(key, [])
        if not isinstance(got, list) or not all(isinstance(v, str) for v in got):
            raise ApiError(422, f"subscribe.{key} is a list of strings", details=[{"path": f"subscribe.{key}"}])
        lists[key] = got
    bad = [k for k in lists["kinds"] if k not in BY_KIND]
    if bad:
        raise ApiError(422, f"no kind {bad[0]!r}; kinds: {', '.join(sorted(BY_KIND))}", details=[{"path": "subscribe.kinds"}])
    since = value.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise ApiError(422, "subscribe.since is an event number (0 or more)", details=[{"path": "subscribe.since"}])
    return Subscription(**lists), since


def _error(e: ApiError) -> dict[str, Any]:
    return {"event": "error", "error": {"code": e.code, "message": str(e), "details": e.details}}


def _message(raw: dict[str, Any]) -> dict[str, Any]:
    text = raw.get("text")
    if text is None and raw.get("bytes") is not None:
        text = raw["bytes"].decode("utf-8", "replace")
    if text is None or len(text) > MAX_MESSAGE:
        raise ApiError(400, f"a message is a JSON object of at most {MAX_MESSAGE} characters")
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ApiError(400, f"the message is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "a message is a JSON object: {\"token\": ...} or {\"subscribe\": {...}}")
    return value


async def authenticate(ws: WebSocket) -> tuple[Any, dict[str, Any]]:
    """The caller's identity (the guard's check) and the first message, if the token came in it."""
    guard = ws.scope["state"]["guard"]
    first: dict[str, Any] = {}
    conn: HTTPConnection = ws
    if "authorization" not in ws.headers:
        await ws.accept()
        try:
            raw = await asyncio.wait_for(ws.receive(), FIRST_MESSAGE_S)
        except TimeoutError:
            raise ApiError(401, f"no token: send it in the Authorization header or as the first message "
                           f'{{"token": ...}} within {FIRST_MESSAGE_S:.0f} s') from None
        if raw["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(raw.get("code", 1000))
        first = _message(raw)
        token = first.get("token")
        if token is not None:
            if not isinstance(token, str) or any(c in token for c in "\r\n"):
                raise ApiError(401, "the token is a string")
            headers = [*ws.scope["headers"], (b"authorization", f"Bearer {token}".encode())]
            conn = HTTPConnection({**ws.scope, "headers": headers})
    identity = await guard.authenticate(conn, write=False)
    guard.spend(identity, ws.client.host if ws.client else "unknown", False)
    return identity, first


async def endpoint(ws: WebSocket) -> None:
    guard = ws.scope["state"]["guard"]
    svc, slots = ws.app.state.service, ws.app.state.streams
    who = None
    try:
        guard.check_host(ws, write=True)  # a browser sends Origin with every handshake: a foreign page gets nothing
        identity, first = await authenticate(ws)
        if not permissions.allows(identity.role, "viewer"):  # an agent token posts its status, reads nothing
            raise ApiError(403, f"{identity.name} has role {identity.role}: the event stream needs viewer")
        if not slots.acquire(identity.name):
            raise ApiError(429, f"{identity.name} has {slots.limit} event streams open already; close one first",
                           headers={"Retry-After": "5"})
        who = identity.name
        if ws.application_state.name == "CONNECTING":
            await ws.accept()
        await stream(ws, svc, identity.name, first)
    except ApiError as e:
        await refuse(ws, e)
    except WebSocketDisconnect:
        pass
    finally:
        if who is not None:
            slots.release(who)


async def refuse(ws: WebSocket, e: ApiError) -> None:
    """Before the handshake is accepted: an HTTP answer in the one error shape; after: an error
    message and close code 4000 + status."""
    if ws.application_state.name == "CONNECTING":
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            await ws.send_denial_response(error_response(e.status, e.code, str(e), e.details, e.headers))
        else:
            await ws.close(4000 + e.status, str(e)[:120])
        return
    try:
        await ws.send_json(_error(e))
        await ws.close(4000 + e.status, str(e)[:120])  # a close reason is at most 123 bytes
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def stream(ws: WebSocket, svc: Any, who: str, first: dict[str, Any]) -> None:
    sub, seq = Subscription(), len(svc.events.items)

    async def handle(message: dict[str, Any]) -> None:
        nonlocal sub, seq
        unknown = sorted(set(message) - {"token", "subscribe"})
        if unknown:
            raise ApiError(422, f"a message takes token (first) and subscribe, not {unknown[0]!r}")
        if "subscribe" in message:
            sub, since = parse_subscribe(message["subscribe"])
            seq = seq if since is None else since
        await ws.send_json({"event": "subscribed", "identity": who, "filter": sub.as_dict(), "seq": seq})

    await handle(first)
    receiving: asyncio.Task[Any] = asyncio.ensure_future(ws.receive())
    waiting: asyncio.Task[Any] | None = None
    try:
        while True:
            waiting = asyncio.ensure_future(svc.events.wait(seq, 30.0))
            done, _ = await asyncio.wait({receiving, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if waiting in done:
                for item in waiting.result():
                    seq = item["seq"] + 1
                    if sub.matches(item):
                        await ws.send_json(item)
            if receiving in done:
                raw = receiving.result()
                if raw["type"] == "websocket.disconnect":
                    return
                try:
                    await handle(_message(raw))
                except ApiError as e:  # a bad message is answered; the stream goes on
                    await ws.send_json(_error(e))
                receiving = asyncio.ensure_future(ws.receive())
            if waiting not in done:
                waiting.cancel()
    finally:
        for task in (receiving, waiting):
            if task is not None and not task.done():
                task.cancel()


async def upgrade_required(request: Request) -> Response:
    """A plain GET of the WebSocket route: the answer says how to open it."""
    raise ApiError(426, "this is a WebSocket: open it with a WebSocket client (Upgrade: websocket)",
                   headers={"Upgrade": "websocket", "Connection": "Upgrade"})


def openapi_paths(error_responses: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The route and its message schemas, as far as OpenAPI 3.1 can say it (it has no WebSocket
    operations): the handshake is a GET answered 101, the messages are components described in
    `x-websocket-messages`. `error_responses` are the statuses a refused handshake can have."""
    strings = {"type": "array", "items": {"type": "string"}}
    subscribe = {"type": "object", "additionalProperties": False, "properties": {
        "events": strings | {"description": "event types: apply, edit, job, reconcile, drift, change, approval, ..."},
        "kinds": strings | {"description": "resource kinds", "items": {"enum": sorted(BY_KIND)}},
        "names": strings | {"description": "resource names or shell patterns (tank/*)"},
        "since": {"type": "integer", "minimum": 0, "description": "replay from this event number"}}}
    schemas = {
        "WsClientMessage": {"type": "object", "additionalProperties": False, "description": "a message to /api/v1/ws",
                            "properties": {"token": {"type": "string", "description": "first message only, when the "
                                                     "handshake had no Authorization header"}, "subscribe": subscribe},
                            "example": {"token": "cvg_...", "subscribe": {"kinds": ["dataset"], "names": ["tank/*"]}}},
        "Event": {"type": "object", "required": ["seq", "time", "event"], "description": "an event, as /api/v1/events "
                  "and /api/v1/ws send it; `subscribed` and `error` come from /api/v1/ws only",
                  "properties": {"seq": {"type": "integer"}, "time": {"type": "number"}, "event": {"type": "string"},
                                 "ref": {"type": "string"}, "refs": strings, "job": {"type": "string"},
                                 "status": {"type": "string"}, "action": {"type": "string"}},
                  "example": {"seq": 7, "time": 1795000000.0, "event": "apply", "job": "3f2a9c1b0d4e",
                              "ref": "dataset/tank/media", "action": "+", "status": "done", "detail": ""}},
    }
    doc = __doc__ or ""
    op = {"operationId": "getWs", "summary": "the event stream over a WebSocket: open it with a WebSocket client",
          "description": doc[doc.index("Authentication"):],
          "responses": {"101": {"description": "switching protocols: then messages, JSON objects in text frames"},
                        **error_responses},
          "x-websocket-messages": {"client": {"$ref": "#/components/schemas/WsClientMessage"},
                                   "server": {"$ref": "#/components/schemas/Event"}}}
    return {PATH: {"get": op}}, schemas
