"""The web page of `converge serve`: a static HTML shell and plain JavaScript modules at `/` and
`/ui/`. It holds no data: everything it shows or changes goes through the public API under
/api/v1 with the caller's bearer token (kept in sessionStorage, never a cookie, so there is no
CSRF surface). The shell is public; every API call it makes is authenticated.

Content-Security-Policy allows scripts from this origin only (no inline script, no eval)."""

from __future__ import annotations

import os
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATIC = files(__package__) / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}
PREFIX = "/ui/"  # the assets; guard.Guard lets these and "/" through without a token


def _assets() -> dict[str, bytes]:
    """Every file under static/, by its path there: only these names are ever served."""
    found: dict[str, bytes] = {}
    root = str(STATIC)
    for folder, _, names in os.walk(root):
        for name in names:
            if os.path.splitext(name)[1] in TYPES:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return found


def routes() -> list[Route]:
    assets = _assets()

    def answer(name: str) -> Response:
        body = assets.get(name)
        if body is None:
            return Response(f"no asset {name[:80]!r}\n", 404, media_type="text/plain", headers=HEADERS)
        return Response(body, media_type=TYPES[os.path.splitext(name)[1]], headers=HEADERS)

    async def index(request: Request) -> Response:
        return answer("index.html")

    async def asset(request: Request) -> Response:
        return answer(request.path_params["name"])

    return [Route("/", index, methods=["GET"]), Route(PREFIX + "{name:path}", asset, methods=["GET"])]
