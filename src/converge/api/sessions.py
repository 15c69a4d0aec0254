"""Sessions from a login: a short-lived access token and a refresh token, both stored only as
SHA-256 hashes in DIR/.converge/sessions.json (mode 0600, kept out of git).

A token reads `cva_SID.SECRET` (access) or `cvr_SID.SECRET` (refresh): SID finds the session,
SECRET is compared by hash in constant time. Both are 256-bit random, so a fast hash is enough
(the slow hashes are for passwords). A refresh rotates both tokens; presenting a refresh token
that was already rotated away ends the session (someone else has a copy). Logout ends it too.
Expired sessions are dropped whenever the file is written."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from .jsonfile import JsonFile

ACCESS, REFRESH = "cva_", "cvr_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(sid: str, entry: Any) -> None:
    for field in ("user", "access", "refresh"):
        if not isinstance(entry[field], str):
            raise ValueError(f"{field} is not a string")
    for field in ("access_expires", "refresh_expires", "created"):
        float(entry[field])


def split(token: str, kind: str) -> tuple[str, str] | None:
    """(SID, SECRET) of a token of this kind, or None."""
    if not token.startswith(kind):
        return None
    sid, dot, secret = token[len(kind):].partition(".")
    return (sid, secret) if dot and sid and secret else None


@dataclass(frozen=True)
class Issued:
    sid: str
    user: str
    access_token: str
    refresh_token: str
    access_expires: float


class Sessions:
    def __init__(self, directory: str, access_seconds: float, refresh_seconds: float) -> None:
        self.file = JsonFile(directory, "sessions.json", _check)
        self.access_seconds, self.refresh_seconds = access_seconds, refresh_seconds

    def _issue(self, data: dict[str, Any], sid: str, user: str, now: float, created: float) -> Issued:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        data[sid] = {"user": user, "access": _digest(access), "refresh": _digest(refresh), "created": created,
                     "access_expires": now + self.access_seconds, "refresh_expires": now + self.refresh_seconds}
        return Issued(sid, user, f"{ACCESS}{sid}.{access}", f"{REFRESH}{sid}.{refresh}", now + self.access_seconds)

    @staticmethod
    def _prune(data: dict[str, Any], now: float) -> None:
        for sid in [s for s, e in data.items() if float(e["refresh_expires"]) <= now]:
            del data[sid]

    def start(self, user: str, now: float) -> Issued:
        def change(data: dict[str, Any]) -> Issued:
            self._prune(data, now)
            sid = secrets.token_hex(8)
            while sid in data:
                sid = secrets.token_hex(8)
            return self._issue(data, sid, user, now, now)

        return self.file.update(change)

    def check_access(self, token: str, now: float) -> tuple[str, str, float] | str | None:
        """(SID, user, expiry) of a valid access token; "expired" for a right token past its time;
        None for anything else."""
        parts = split(token, ACCESS)
        if parts is None:
            return None
        sid, secret = parts
        entry = self.file.read().get(sid)
        stored = str(entry["access"]) if entry is not None else "0" * 64
        if not hmac.compare_digest(_digest(secret), stored) or entry is None:
            return None
        if now >= float(entry["access_expires"]):
            return "expired"
        return sid, str(entry["user"]), float(entry["access_expires"])

    def refresh(self, token: str, now: float) -> Issued | None:
        """New tokens for a valid refresh token (the old pair stops working), else None."""
        parts = split(token, REFRESH)
        if parts is None:
            return None
        sid, secret = parts

        def change(data: dict[str, Any]) -> Issued | None:
            self._prune(data, now)
            entry = data.get(sid)
            if entry is None:
                return None
            if not hmac.compare_digest(_digest(secret), str(entry["refresh"])):
                del data[sid]  # an old refresh token came back: the pair leaked, end the session
                return None
            return self._issue(data, sid, str(entry["user"]), now, float(entry["created"]))

        return self.file.update(change)

    def end(self, sid: str) -> bool:
        return self.file.update(lambda data: data.pop(sid, None) is not None)

    def end_user(self, user: str) -> int:
        """End every session of USER (its account was removed); how many."""
        def change(data: dict[str, Any]) -> int:
            ended = [s for s, e in data.items() if e["user"] == user]
            for sid in ended:
                del data[sid]
            return len(ended)

        return self.file.update(change)
