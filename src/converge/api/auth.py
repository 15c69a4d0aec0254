"""Long-lived bearer tokens with roles (permissions.py), stored hashed, optionally expiring;
per-client rate limits. (Short-lived tokens from a login are sessions.py.)

The store is DIR/.converge/tokens.json. A missing, unreadable or corrupt store never means
"no authentication": the server refuses (503) until it is fixed. Checking a token costs the
same work whatever it is (one scrypt, constant-time compares); a verified token is remembered
under a keyed fast hash so it is not hashed again on every request."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..errors import ConvergeError
from ..fsutil import STATE_DIR, atomic_write, state_dir
from ..lock import file_lock
from .jsonfile import JsonFile

ROLES = ("admin", "operator", "viewer")  # of tokens and API accounts
AGENT = "agent"  # a token only: posts one host's status (its entry's `host`), nothing else
TOKEN_ROLES = (*ROLES, AGENT)
USED_EVERY = 60.0  # seconds: "last used" is written at most this often per token
PREFIX = 8  # characters of a token kept in clear to find its entry ("cvg_" and 4 random ones)
BOOTSTRAP = "admin"  # the token `converge serve` creates on a directory without a token store


class TokenStoreError(ConvergeError):
    """The token store cannot be trusted: missing, unreadable or corrupt."""


def tokens_path(directory: str) -> str:
    return os.path.join(directory, STATE_DIR, "tokens.json")


def _hash(token: str, salt: bytes) -> str:
    return hashlib.scrypt(token.encode(), salt=salt, n=2**12, r=8, p=1).hex()


# Compared against when no stored prefix matches, so every attempt costs one scrypt.
_DUMMY = {"salt": "00" * 16, "hash": "00" * 64, "prefix": ""}


def read_tokens(directory: str) -> dict[str, dict[str, Any]]:
    """The stored tokens. Raises TokenStoreError, saying why, when the store is missing or bad."""
    path = tokens_path(directory)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise TokenStoreError(f"{path} is missing; restart `converge serve` (it creates an admin token) "
                              "or run `converge token create NAME --role admin`") from None
    except OSError as e:
        raise TokenStoreError(f"{path} cannot be read: {e.strerror}") from None
    except ValueError as e:
        raise TokenStoreError(f"{path} is not valid JSON ({e}); fix it or remove it and restart "
                              "`converge serve`") from None
    if not isinstance(data, dict):
        raise TokenStoreError(f"{path} is not a JSON object of tokens")
    for name, entry in data.items():
        try:
            ok = entry["role"] in TOKEN_ROLES and bytes.fromhex(entry["salt"]) and bytes.fromhex(entry["hash"]) \
                and isinstance(entry["prefix"], str) and (entry["role"] != AGENT or isinstance(entry["host"], str))
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise TokenStoreError(f"{path}: token {name!r} is corrupt (role, salt, hash and prefix are needed; "
                                  "an agent token's host too)")
        try:
            expires_at(entry)
        except (TypeError, ValueError):
            raise TokenStoreError(f"{path}: token {name!r} has an `expires` that is no ISO 8601 time") from None
    return data


LIFETIME_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_lifetime(text: str) -> float:
    """`90m`, `12h`, `30d`, `2w`: seconds. Raises ValueError saying what is allowed."""
    number, unit = text.strip()[:-1], text.strip()[-1:]
    if unit not in LIFETIME_UNITS or not number.isdigit() or not 0 < int(number) <= 100_000:
        raise ValueError(f"--expires {text!r}: a whole number and a unit, m, h, d or w (90m, 12h, 30d, 2w)")
    return float(int(number) * LIFETIME_UNITS[unit])


def iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def expires_at(entry: dict[str, Any]) -> float | None:
    """When a token stops working (seconds since the epoch), or None: it does not expire."""
    value = entry.get("expires")
    return None if value is None else parse_iso(str(value))


def expired(entry: dict[str, Any], now: float) -> bool:
    end = expires_at(entry)
    return end is not None and now >= end


@contextmanager
def _changing(directory: str) -> Iterator[dict[str, dict[str, Any]]]:
    """The token store under its file lock, written back when the block ends without an error."""
    state_dir(directory)
    with file_lock(tokens_path(directory) + ".lock", 10.0, "the token store is being changed"):
        data = read_tokens(directory) if has_store(directory) else {}
        yield data
        atomic_write(tokens_path(directory), json.dumps(data, indent=1, sort_keys=True) + "\n", 0o600)


def usage(directory: str) -> JsonFile:
    """DIR/.converge/tokens-used.json: when each token was last used (kept apart from the tokens,
    so the server's updates never race a `converge token` command's)."""
    return JsonFile(directory, "tokens-used.json", lambda name, when: parse_iso(str(when)))


def revoke_token(directory: str, name: str) -> bool:
    """Remove NAME's token; False when there is none."""
    if not has_store(directory):
        return False
    with _changing(directory) as data:
        found = data.pop(name, None) is not None
    return found


def list_tokens(directory: str) -> list[dict[str, Any]]:
    """Name, role, created, expires and last use of every token (never the token or its hash)."""
    tokens = read_tokens(directory)
    try:
        used = usage(directory).read()
    except ConvergeError:
        used = {}  # a broken usage file loses "last used", nothing else
    return [{"name": name, "role": entry["role"], "created": entry.get("created"), "expires": entry.get("expires"),
             "last_used": used.get(name), **({"host": entry["host"]} if "host" in entry else {})}
            for name, entry in sorted(tokens.items())]


def has_store(directory: str) -> bool:
    return os.path.lexists(tokens_path(directory))


def create_token(directory: str, name: str, role: str, bootstrap: bool = False, lifetime: float | None = None,
                 now: float | None = None, host: str | None = None) -> str:
    """A new token for NAME (printed once; only its salted hash is stored), valid for `lifetime`
    seconds from now, or until revoked. An agent token names the one host whose status it posts."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}")
    if (role == AGENT) != (host is not None):
        raise ValueError("an agent token needs --host HOST (the host whose status it posts); other roles take no --host")
    if host is not None:
        from ..fleet.inventory import NAME_PATTERN

        if not re.fullmatch(NAME_PATTERN, host):
            raise ValueError(f"--host {host!r}: a host name is letters, digits, '-', '_', '.' ({NAME_PATTERN})")
    now = time.time() if now is None else now
    with _changing(directory) as data:
        taken = {str(e["prefix"]) for n, e in data.items() if n != name}
        token = "cvg_" + secrets.token_urlsafe(32)
        while token[:PREFIX] in taken:  # prefixes stay unique: each finds exactly one entry
            token = "cvg_" + secrets.token_urlsafe(32)
        salt = os.urandom(16)
        data[name] = {"role": role, "salt": salt.hex(), "hash": _hash(token, salt), "prefix": token[:PREFIX],
                      "created": iso(now)}
        if lifetime is not None:
            data[name]["expires"] = iso(now + lifetime)
        if bootstrap:
            data[name]["bootstrap"] = True
        if host is not None:
            data[name]["host"] = host
    return token


def ensure_store(directory: str) -> str | None:
    """The first `converge serve` on DIR: an admin token, returned once to print. None when a store
    exists (which must be readable: TokenStoreError otherwise)."""
    if has_store(directory):
        read_tokens(directory)
        return None
    return create_token(directory, BOOTSTRAP, "admin", bootstrap=True)


def check_token(tokens: dict[str, dict[str, Any]], token: str) -> tuple[str, str] | None:
    """(name, role) for a valid token. Exactly one scrypt and constant-time compares per call,
    whether or not the token's prefix matches a stored one."""
    candidate, entry = None, _DUMMY
    head = token[:PREFIX].encode()
    for name, stored in tokens.items():
        if hmac.compare_digest(str(stored["prefix"]).encode(), head):
            candidate, entry = name, stored
    digest = _hash(token, bytes.fromhex(str(entry["salt"])))
    if hmac.compare_digest(digest.encode(), str(entry["hash"]).encode()) and candidate is not None:
        return candidate, str(entry["role"])
    return None


class TokenStore:
    """The token file of a directory, re-read when it changes, plus a small cache of verified
    tokens keyed by an HMAC under a per-process key (never the token itself)."""

    def __init__(self, directory: str, cache_size: int = 64) -> None:
        self.directory, self.cache_size = directory, cache_size
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._tokens: dict[str, dict[str, Any]] = {}
        self._verified: OrderedDict[bytes, tuple[str, str]] = OrderedDict()  # key -> (name, stored hash)
        self._checks: dict[bytes, Future[tuple[str, str]]] = {}  # token checks running now, by key
        self.used = usage(directory)
        self._touched: dict[str, float] = {}

    def due(self, name: str, now: float) -> bool:
        """Whether NAME's "last used" is to be written now (at most every USED_EVERY seconds)."""
        with self._lock:
            if now - self._touched.get(name, -USED_EVERY) < USED_EVERY:
                return False
            self._touched[name] = now
            return True

    def touch(self, name: str, now: float) -> None:
        try:
            self.used.update(lambda data: data.__setitem__(name, iso(now)))
        except (ConvergeError, OSError):
            pass  # "last used" is a convenience: never refuse a request for it

    def tokens(self) -> dict[str, dict[str, Any]]:
        """Raises TokenStoreError when the store is missing, unreadable or corrupt."""
        try:
            st = os.stat(tokens_path(self.directory))
        except OSError:
            return read_tokens(self.directory)  # raises, saying why (or reads a store made just now)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._seen:
                self._tokens, self._seen = read_tokens(self.directory), stamp
            return self._tokens

    def key(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def cached(self, tokens: dict[str, dict[str, Any]], key: bytes) -> tuple[str, str] | None:
        """(name, role) of a token verified before, while its stored entry is unchanged."""
        with self._lock:
            hit = self._verified.get(key)
        if hit is None:
            return None
        name, stored_hash = hit
        entry = tokens.get(name)
        if entry is None or not hmac.compare_digest(str(entry["hash"]), stored_hash):
            return None  # revoked or replaced since
        return name, str(entry["role"])

    def join_check(self, key: bytes) -> tuple[Future[tuple[str, str]], bool]:
        """The check of this token in progress (False), or a new one this caller runs (True)."""
        with self._lock:
            running = self._checks.get(key)
            if running is not None:
                return running, False
            self._checks[key] = Future()
            return self._checks[key], True

    def end_check(self, key: bytes) -> None:
        with self._lock:
            self._checks.pop(key, None)

    def remember(self, tokens: dict[str, dict[str, Any]], key: bytes, name: str) -> None:
        with self._lock:
            self._verified[key] = (name, str(tokens[name]["hash"]))
            while len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)


class RateLimit:
    """Token bucket per client: `rate` events a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            if len(self.buckets) > 10_000:  # forget clients whose bucket is full again
                full = self.burst / self.rate
                self.buckets = {c: v for c, v in self.buckets.items() if now - v[1] < full}
            level, last = self.buckets.get(client, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            if level >= 1:
                self.buckets[client] = (level - 1, now)
                return 0.0
            self.buckets[client] = (level, now)
            return (1 - level) / self.rate

    def headers(self, client: str) -> dict[str, str]:
        """X-RateLimit-*: the bucket's size, what is left of it, and seconds until it is full again."""
        now = time.monotonic()
        with self.lock:
            level, last = self.buckets.get(client, (float(self.burst), now))
        level = min(float(self.burst), level + (now - last) * self.rate)
        return {"X-RateLimit-Limit": str(self.burst), "X-RateLimit-Remaining": str(int(level)),
                "X-RateLimit-Reset": str(math.ceil((self.burst - level) / self.rate))}

    @classmethod
    def per_minute(cls, count: int) -> RateLimit:
        """COUNT a minute, in bursts of up to ten seconds' worth."""
        return cls(count / 60.0, max(1, math.ceil(count / 6)))

    def give_back(self, client: str) -> None:
        """Return what `take` took (a token check that found a valid token costs nothing)."""
        with self.lock:
            level, last = self.buckets.get(client, (float(self.burst), time.monotonic()))
            self.buckets[client] = (min(float(self.burst), level + 1), last)
