"""The git history of the manifest directory, and reverting one change through the API.

GET  /api/v1/history?limit=N        -> {"commits": [{commit, author, time, message, files, diff}]}
POST /api/v1/history/{commit}/revert -> an EditResult: the reverse of that commit's diff, applied to
the file as it is now, validated and planned like any edit, committed as "api: revert ..."."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..edit import Edit
from ..lock import edit_lock
from .errors import ApiError
from .routes import authorize, service
from .service import Service, read_manifest

COMMIT = re.compile(r"[0-9a-f]{7,40}")
MAX_DIFF = 64 * 1024  # a diff longer than this is cut (the page shows the start and says so)


def _git(directory: str, *args: str, check: bool = True) -> str:
    env = dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat")
    out = subprocess.run(["git", "--literal-pathspecs", "-C", directory, *args], capture_output=True, text=True, env=env)
    if check and out.returncode != 0:
        raise ApiError(409, f"git {args[0]}: {(out.stderr or out.stdout).strip()}", code="git")
    return out.stdout


def _is_repo(directory: str) -> bool:
    return _git(directory, "rev-parse", "--is-inside-work-tree", check=False).strip() == "true"


def log(directory: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` commits that touched the directory, each with its diff (paths relative
    to it): one `git log -p`, split at a marker made for this call (git prints a subject's
    control characters as they are, so no fixed separator is safe)."""
    if not _is_repo(directory):
        return []
    marker = f"@@converge-{secrets.token_hex(12)}@@"
    raw = _git(directory, "log", f"-n{limit}", "-p", "--relative", "--no-color", "--no-ext-diff",
               f"--format={marker}%H%n%an%n%aI%n%s", "--", ".", check=False)
    commits = []
    for record in raw.split(marker)[1:]:
        sha, author, when, rest = record.split("\n", 3)
        subject, _, diff = rest.partition("\n")
        diff = diff.strip("\n") + "\n" if diff.strip() else ""
        files = re.findall(r"^diff --git a/.+? b/(.+)$", diff, re.M)
        commits.append({"commit": sha, "author": author, "time": when, "message": subject, "files": files,
                        "diff": diff[:MAX_DIFF], "truncated": len(diff) > MAX_DIFF})
    return commits


def reverse_edit(svc: Service, sha: str) -> tuple[Edit, str]:
    """The edit that undoes commit `sha` on its one manifest file, as the file is now."""
    full = _git(svc.directory, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False).strip()
    if not full:
        raise ApiError(404, f"no commit {sha!r} in the manifest directory's repository")
    files = _git(svc.directory, "show", "--relative", "--format=", "--name-only", full, "--", ".").split()
    if len(files) != 1:
        raise ApiError(409, f"commit {full[:12]} changes {len(files)} files here; the API reverts a change of one "
                       "manifest file (revert it with git)", code="not_revertible")
    rel = files[0]
    path = svc.manifest_path(rel)
    patch = _git(svc.directory, "show", "--relative", "--format=", "--no-color", "--binary", full, "--", rel)
    before = read_manifest(path, rel) if os.path.lexists(path) else ""
    with tempfile.TemporaryDirectory(prefix="converge-revert-") as tmp:
        # git apply outside any repository works on plain files, like patch(1)
        target = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(path):
            with open(target, "w", encoding="utf-8") as f:
                f.write(before)
        env = dict(os.environ, LC_ALL="C", GIT_CEILING_DIRECTORIES=os.path.dirname(tmp))
        done = subprocess.run(["git", "apply", "-R", "-"], input=patch, cwd=tmp, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise ApiError(409, f"commit {full[:12]} does not revert cleanly on {rel} as it is now: "
                           f"{done.stderr.strip()}", code="conflict")
        after = open(target, encoding="utf-8").read() if os.path.exists(target) else ""
    subject = _git(svc.directory, "show", "-s", "--format=%s", full).strip()
    return Edit(path, before, after), f"api: revert {full[:12]} ({subject})"


async def get_history(request: Request) -> Response:
    authorize(request, write=False)
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ApiError(400, f"limit={raw!r}: a number from 1 to 500")
    commits = await run_in_threadpool(log, service(request).directory, int(raw))
    return JSONResponse({"commits": commits})


async def post_revert(request: Request) -> Response:
    author = authorize(request, write=True)
    sha = request.path_params["commit"]
    if not COMMIT.fullmatch(sha):
        raise ApiError(400, f"{sha[:60]!r} is not a commit id (7 to 40 hex digits)")
    svc = service(request)

    def revert() -> dict[str, Any]:
        with edit_lock(svc.directory):
            edit, message = reverse_edit(svc, sha)
            return svc._validate_write(edit, author, message)

    return JSONResponse(await run_in_threadpool(revert))


def openapi_paths(responses: Any, json_body: Any, read: tuple[int, ...], write: tuple[int, ...]) -> dict[str, Any]:
    commit = {"type": "object", "properties": {
        "commit": {"type": "string"}, "author": {"type": "string"}, "time": {"type": "string"},
        "message": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}},
        "diff": {"type": "string"}, "truncated": {"type": "boolean"}}}
    return {
        "/api/v1/history": {"get": {
            "summary": "the git log of the manifest directory, newest first, with each commit's diff",
            "parameters": [{"name": "limit", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
            "responses": responses({"200": json_body({"type": "object", "properties": {
                "commits": {"type": "array", "items": commit}}})}, read)}},
        "/api/v1/history/{commit}/revert": {
            "parameters": [{"name": "commit", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{7,40}$"}}],
            "post": {"summary": "revert a commit that changed one manifest file (validated and planned first)",
                     "responses": responses({"200": json_body({"$ref": "#/components/schemas/EditResult"})},
                                            (*write, 404))}},
    }
