"""status_push.py: what a reconcile reports, and posting it (to a loopback HTTP server) without
ever stopping the watch or showing the token."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from converge import __version__
from converge.errors import ConvergeError
from converge.status_push import StatusPusher, check_url, status_of

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("event", "result", "changes", "drift", "converged"), [
    ({"event": "reconcile", "applied": [], "failed": [], "skipped": [], "held": []}, "ok", 0, 0, True),
    ({"event": "reconcile", "applied": ["dataset/a", "share/b"], "failed": [], "held": []}, "changed", 2, 0, True),
    ({"event": "reconcile", "applied": [], "held": ["dataset/a"]}, "held", 0, 1, False),
    ({"event": "reconcile", "applied": ["x/y"], "failed": [{"ref": "a/b"}], "skipped": [{"ref": "c/d"}]}, "failed", 1, 2, False),
    ({"event": "drift", "summary": {"create": 1, "update": 2, "replace": 0, "delete": 0, "blocked": 1}}, "ok", 0, 3, False),
    ({"event": "invalid", "issues": ["x"]}, "invalid", 0, 0, False),
    ({"event": "error", "error": "boom"}, "error", 0, 0, False),
])
def test_status_of_a_reconcile(event, result, changes, drift, converged):
    got = status_of({"trigger": "start", **event}, "nas1", AT)
    assert got == {"host": "nas1", "last_apply": {"at": "2026-11-28T12:00:00Z", "result": result, "changes": changes},
                   "drift": drift, "converged": converged, "version": __version__}


class Central:
    """A loopback HTTP server that records the posts and answers with `code`."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, dict]] = []
        self.code = 200
        central = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                central.posts.append((self.path, dict(self.headers), body))
                self.send_response(central.code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"error": {"message": "nope"}} if central.code >= 400 else {}).encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def central():
    server = Central()
    yield server
    server.close()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "agent.token"
    path.write_text("cvg_secretsecret\n")
    path.chmod(0o600)
    return path


def test_a_reconcile_is_posted_with_the_token_from_its_file(central, token_file):
    pusher = StatusPusher(central.url + "/", str(token_file), "nas1")
    pusher({"event": "change", "status": "done"})  # not the end of a reconcile: nothing posted
    pusher({"event": "reconcile", "trigger": "save", "applied": ["dataset/a"]})
    [(path, headers, body)] = central.posts
    assert path == "/api/v1/hosts/nas1/status" and headers["Authorization"] == "Bearer cvg_secretsecret"
    assert body["host"] == "nas1" and body["last_apply"]["changes"] == 1
    token_file.write_text("cvg_rotated\n")  # a new token is used without a restart
    pusher({"event": "reconcile", "trigger": "resync", "applied": []})
    assert central.posts[1][1]["Authorization"] == "Bearer cvg_rotated" and pusher.sent == 2


def test_failures_are_logged_without_the_token_and_never_raise(central, token_file, caplog, capsys):
    central.code = 403
    pusher = StatusPusher(central.url, str(token_file), "nas1", timeout=2)
    with caplog.at_level(logging.WARNING):
        assert pusher.push(status_of({"event": "reconcile"}, "nas1", AT)) is False
    central.close()  # the server goes away: still no exception, the next reconcile tries again
    assert pusher.push(status_of({"event": "reconcile"}, "nas1", AT)) is False
    assert pusher.failed == 2
    seen = caplog.text + "".join(capsys.readouterr())
    assert "report-refused" in seen and "report-failed" in seen and "cvg_secretsecret" not in seen


def test_bad_options_are_clear_errors(tmp_path, token_file):
    with pytest.raises(ConvergeError, match="base URL"):
        check_url("ftp://central")
    with pytest.raises(ConvergeError, match="--report-token-file"):
        StatusPusher("http://127.0.0.1:1", str(tmp_path / "missing"), "nas1")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "empty").chmod(0o600)
    with pytest.raises(ConvergeError, match="must hold the value on one line"):
        StatusPusher("http://127.0.0.1:1", str(tmp_path / "empty"), "nas1")


def test_a_token_file_others_may_read_is_refused_as_a_secret_file_is(token_file):
    token_file.chmod(0o644)
    with pytest.raises(ConvergeError, match=r"has mode 0644; it must be readable by its owner only \(chmod 600"):
        StatusPusher("http://127.0.0.1:1", str(token_file), "nas1")
    token_file.unlink()
    token_file.symlink_to("/etc/hostname")  # a link could hand the agent another file: refused
    with pytest.raises(ConvergeError, match="--report-token-file"):
        StatusPusher("http://127.0.0.1:1", str(token_file), "nas1")
