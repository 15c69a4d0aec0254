"""Bearer tokens with roles (admin writes, viewer reads), stored hashed; per-client rate limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from typing import Any

from ..fsutil import atomic_write

ROLES = ("admin", "viewer")


def tokens_path(directory: str) -> str:
    return os.path.join(directory, ".converge", "tokens.json")


def _hash(token: str, salt: bytes) -> str:
    return hashlib.scrypt(token.encode(), salt=salt, n=2**12, r=8, p=1).hex()


def create_token(directory: str, name: str, role: str) -> str:
    """A new token for NAME (printed once; only its salted hash is stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = "cvg_" + secrets.token_urlsafe(32)
    salt = os.urandom(16)
    data = load_tokens(directory)
    data[name] = {"role": role, "salt": salt.hex(), "hash": _hash(token, salt), "prefix": token[:8]}
    os.makedirs(os.path.dirname(tokens_path(directory)), exist_ok=True)
    atomic_write(tokens_path(directory), json.dumps(data, indent=1, sort_keys=True) + "\n", 0o600)
    return token


def load_tokens(directory: str) -> dict[str, Any]:
    try:
        with open(tokens_path(directory), encoding="utf-8") as f:
            return dict(json.load(f))
    except (FileNotFoundError, ValueError):
        return {}


def check_token(tokens: dict[str, Any], token: str) -> tuple[str, str] | None:
    """(name, role) for a valid token. Every stored token is tried in constant time."""
    found = None
    for name, entry in tokens.items():
        if not token.startswith(str(entry.get("prefix", "\0"))):
            continue
        if hmac.compare_digest(_hash(token, bytes.fromhex(entry["salt"])), entry["hash"]):
            found = (name, str(entry["role"]))
    return found


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
            level, last = self.buckets.get(client, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            if level >= 1:
                self.buckets[client] = (level - 1, now)
                return 0.0
            self.buckets[client] = (level, now)
            return (1 - level) / self.rate
