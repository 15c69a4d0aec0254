"""API accounts: a name, a role and an argon2id password hash in DIR/.converge/api-users.json
(mode 0600, kept out of git). `converge api-user add|list|remove` manages them; the API only
checks passwords (POST /api/v1/auth/login).

A login costs one argon2 verify whether or not the account exists (an unknown name is checked
against a dummy hash made with the same parameters), so a wrong name and a wrong password take
the same time and get the same answer."""

from __future__ import annotations

import re
import time
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .auth import ROLES, iso
from .jsonfile import JsonFile

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit"
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


def _check(name: str, entry: Any) -> None:
    if not NAME.match(name):
        raise ValueError(f"the name is not {NAME_RULE}")
    if entry["role"] not in ROLES or not str(entry["hash"]).startswith("$argon2"):
        raise ValueError("role and an argon2 hash are needed")


def store(directory: str) -> JsonFile:
    return JsonFile(directory, "api-users.json", _check)


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"an API account name is {NAME_RULE}, not {name!r}")


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if any(c in password for c in "\n\r\x00"):
        raise ValueError("a password is one line without NUL characters")


def add(directory: str, name: str, role: str, password: str, now: float | None = None) -> bool:
    """Create NAME, or replace its role and password; True when it is new."""
    check_name(name)
    check_password(password)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    entry = {"role": role, "hash": HASHER.hash(password), "created": iso(time.time() if now is None else now)}

    def put(data: dict[str, Any]) -> bool:
        new = name not in data
        data[name] = entry
        return new

    return store(directory).update(put)


def remove(directory: str, name: str) -> bool:
    return store(directory).update(lambda data: data.pop(name, None) is not None)


def listing(directory: str) -> list[dict[str, Any]]:
    return [{"name": n, "role": e["role"], "created": e.get("created")} for n, e in sorted(store(directory).read().items())]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return HASHER.hash("not a password of anyone")


def verify(accounts: dict[str, Any], name: str, password: str) -> str | None:
    """The account's role when the password is right, else None; one argon2 verify either way."""
    entry = accounts.get(name)
    encoded = str(entry["hash"]) if entry is not None else _dummy_hash()
    try:
        HASHER.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return str(entry["role"]) if entry is not None else None
