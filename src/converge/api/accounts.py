"""POST /api/v1/users/NAME/password (admin): write the user's secret file (mode 0600, never in
git) and stamp `password_changed` on the user in its manifest, committed like any edit. The value
appears in no answer, event, log line or commit."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import secrets
from ..fsutil import atomic_write
from ..manifest import load_unchecked
from .errors import ApiError


async def set_password(request: Request, svc: Any, author: str, name: str) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    value = body.get("password") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value or "\x00" in value:
        raise ApiError(422, 'the body is {"password": "..."}: one line, not empty')
    result = await run_in_threadpool(_set, svc, name, value, author)
    return JSONResponse(result)


def _set(svc: Any, name: str, value: str, author: str) -> dict[str, Any]:
    target = svc.target()
    desired, _ = load_unchecked(svc.directory, target.config.vars)
    entry = desired.entries.get("user", {}).get(name)
    if entry is None:
        raise ApiError(404, f"user {name!r} is not declared")
    ref = entry.spec.password
    if ref is None or ref.secret is None:
        raise ApiError(409, f"user {name!r} has no password: {{secret: NAME}}; declare one to set it here",
                       code="no_secret")
    directory = secrets.secrets_dir(target.config.settings, svc.directory)
    path = os.path.join(directory, ref.secret)
    if _tracked_by_git(svc.directory, path):
        raise ApiError(409, f"the secret file {os.path.relpath(path, svc.directory)} would be in the manifest "
                            "repository: git-ignore the secrets directory first", code="secret_in_git")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    previous = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    atomic_write(path, value + "\n", 0o600)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        result: dict[str, Any] = svc.mutate("user", name, lambda cur: {**(cur or {}), "password_changed": stamp},
                                            author, f"api: password change for user {name}")
    except Exception:
        if previous is None:
            os.unlink(path)
        else:
            atomic_write(path, previous, 0o600)
        raise
    svc.events.publish({"event": "password", "user": name, "author": author, "time_stamp": stamp})
    return {**result, "user": name, "password_changed": stamp}


def _tracked_by_git(repo: str, path: str) -> bool:
    """Inside the manifest repository and not git-ignored: the file could end up in a commit."""
    real_repo, real = os.path.realpath(repo), os.path.realpath(path)
    if not real.startswith(real_repo + os.sep) or not os.path.isdir(os.path.join(repo, ".git")):
        return False
    result = subprocess.run(["git", "-C", repo, "check-ignore", "-q", "--", os.path.relpath(real, real_repo)],
                            capture_output=True)
    return result.returncode != 0
