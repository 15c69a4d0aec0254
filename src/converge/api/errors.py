"""One error shape for every error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..edit import EditError
from ..errors import ConvergeError, LockBusy, ManifestError, StalePlan

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 412: "precondition_failed", 413: "too_large", 415: "unsupported_media_type", 421: "misdirected", 422: "invalid",
         426: "upgrade_required",
         429: "rate_limited", 500: "internal", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "", details: list[Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.details, self.headers = status, code or CODES.get(status, "error"), details or [], headers


def error_response(status: int, code: str, message: str, details: list[Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}}, status,
                        headers=headers)


async def handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, str(exc), exc.details, exc.headers)
    if isinstance(exc, ManifestError):
        return error_response(422, "invalid", f"{len(exc.issues)} problem(s) in the manifests; nothing was changed",
                              [i.as_dict() | {"text": str(i)} for i in sorted(exc.issues)])
    if isinstance(exc, EditError):
        return error_response(exc.status, exc.code, str(exc), exc.details)
    if isinstance(exc, LockBusy):
        return error_response(409, "busy", str(exc))
    if isinstance(exc, StalePlan):
        return error_response(409, "stale", str(exc))
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail), None,
                              dict(exc.headers) if exc.headers else None)
    if isinstance(exc, ConvergeError):
        return error_response(409, "conflict", str(exc))
    return error_response(500, "internal", f"{type(exc).__name__}: {exc}")
