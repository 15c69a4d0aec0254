"""Pull mode's status push: `converge watch --report URL --report-token-file PATH` posts, after
every reconcile, `{host, last_apply: {at, result, changes}, drift, converged, version}` to a
central `converge serve` at `URL/api/v1/hosts/NAME/status` (api/host_status.py).

The token is read from its file for each post: never an argument, never logged (a rotated token
is picked up without a restart). A post that fails is logged and the latest status is posted
again after the next reconcile; reporting never stops or slows the watch beyond its timeout."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from . import __version__
from .errors import ConvergeError
from .logs import get_logger
from .secrets import read_private_line

log = get_logger("converge.report")

TIMEOUT_S = 10.0
RECONCILES = ("reconcile", "drift", "invalid", "error")  # the watcher's events that end a reconcile


def check_url(url: str) -> str:
    """The server's base URL (http or https, no query); a clear error otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConvergeError(f"--report {url!r}: the central server's base URL, http(s)://HOST:PORT")
    return url.rstrip("/")


def read_token(path: str) -> str:
    """The agent's token: like a secret file, readable by its owner only."""
    try:
        token = read_private_line(path)
    except OSError as e:
        raise ConvergeError(f"--report-token-file {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConvergeError(f"--report-token-file {path}: {e}") from None
    if any(c.isspace() for c in token):
        raise ConvergeError(f"--report-token-file {path}: one token on one line is expected")
    return token


def status_of(event: dict[str, Any], host: str, now: datetime | None = None) -> dict[str, Any]:
    """The status a reconcile event reports. drift: changes still between the manifests and the
    host afterwards (held, failed or skipped ones; what a report-only resync found)."""
    kind = event["event"]
    applied = len(event.get("applied", []))
    if kind == "drift":
        summary = event.get("summary", {})
        drift = sum(summary.get(k, 0) for k in ("create", "update", "replace", "delete"))
        result = "ok"
    elif kind in ("invalid", "error"):
        drift, result = 0, kind
    else:
        drift = len(event.get("held", [])) + len(event.get("failed", [])) + len(event.get("skipped", []))
        result = "failed" if event.get("failed") or event.get("skipped") else "held" if event.get("held") \
            else "changed" if applied else "ok"
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"host": host, "last_apply": {"at": at, "result": result, "changes": applied}, "drift": drift,
            "converged": result in ("ok", "changed") and drift == 0, "version": __version__}


class StatusPusher:
    """The watcher's on_event hook: posts a status after each reconcile. A status that could not be
    posted is not queued: the next reconcile's, newer, takes its place."""

    def __init__(self, url: str, token_file: str, host: str | None = None, timeout: float = TIMEOUT_S) -> None:
        self.base, self.token_file, self.timeout = check_url(url), token_file, timeout
        self.host = host or socket.gethostname().split(".")[0]
        read_token(token_file)  # a missing or empty file is an error at start, not at the first post
        self.lock = threading.Lock()
        self.sent = self.failed = 0

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") in RECONCILES and "trigger" in event:
            self.push(status_of(event, self.host))

    def push(self, status: dict[str, Any]) -> bool:
        url = f"{self.base}/api/v1/hosts/{quote(self.host, safe='')}/status"
        with self.lock:  # a post at a time: statuses arrive in order
            try:
                request = urllib.request.Request(url, data=json.dumps(status).encode(), method="POST", headers={
                    "Content-Type": "application/json", "Authorization": f"Bearer {read_token(self.token_file)}"})
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - http(s) only (check_url)
                    answer.read()
            except urllib.error.HTTPError as e:
                self.failed += 1
                log.warning("report-refused", url=url, status=e.code, error=_message(e))
                return False
            except (OSError, ConvergeError, ValueError) as e:  # unreachable, timed out, token file gone
                self.failed += 1
                log.warning("report-failed", url=url, error=str(getattr(e, "reason", e)), note="posted again after the next reconcile")
                return False
            self.sent += 1
            return True


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error", {}).get("message", ""))[:300]
    except (ValueError, AttributeError, OSError):
        return error.reason if isinstance(error.reason, str) else ""
