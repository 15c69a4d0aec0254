"""Secret references (`{secret: NAME}`, `{env: VAR}`) and their values.

A manifest names a secret, never holds it. Plans carry only where the value is read from
(`file:/etc/converge/secrets/alice`, `env:VAR`); the value is read when it is needed: to compare
it with the host's stored hash while reading facts, and by the executor, which puts it into a
step's stdin in place of MARK just before running the step. So no plan, saved plan, log line,
event or API answer ever holds it."""

from __future__ import annotations

import os
import re
import stat
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import PlanError
from .redaction import MASK

DEFAULT_DIR = "/etc/converge/secrets"
MARK = MASK  # stands for the value in a step's stdin (and reads so in a plan)
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class SecretRef(BaseModel):
    """Where a secret is: a file NAME in the secrets directory (mode 0600), or an environment variable."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    secret: str | None = Field(None, description="a file in the secrets directory (settings.user.secrets_dir, "
                                                 f"default {DEFAULT_DIR}), mode 0600", pattern=NAME.pattern)
    env: str | None = Field(None, description="an environment variable of the converge process", pattern=ENV.pattern)

    @model_validator(mode="after")
    def _one(self) -> "SecretRef":
        if (self.secret is None) == (self.env is None):
            raise ValueError("a secret reference is either {secret: NAME} or {env: VARIABLE}")
        return self


def secrets_dir(settings: dict[str, Any], directory: str) -> str:
    """settings.user.secrets_dir of converge.yaml (relative to the manifest directory), or the default."""
    value = (settings.get("user") or {}).get("secrets_dir") if isinstance(settings.get("user"), dict) else None
    if not value:
        return DEFAULT_DIR
    return os.path.normpath(os.path.join(directory or os.getcwd(), str(value)))


def source(ref: SecretRef, directory: str) -> str:
    return f"env:{ref.env}" if ref.env else f"file:{os.path.join(directory, ref.secret or '')}"


def read(src: str, who: str) -> str:
    """The value a source names. PlanError says whose secret and where it was looked for."""
    kind, _, where = src.partition(":")
    if kind == "env":
        value = os.environ.get(where)
        if value is None:
            raise PlanError(f"{who}: the environment variable {where} (its secret) is not set")
        return value
    try:
        return read_private_line(where)
    except FileNotFoundError:
        raise PlanError(f"{who}: secret file {where} does not exist; create it with mode 0600 "
                        "(the value on its first line)") from None
    except OSError as e:
        raise PlanError(f"{who}: secret file {where} cannot be read: {e.strerror}") from None
    except ValueError as e:
        raise PlanError(f"{who}: secret file {where} {e}") from None


def read_private_line(where: str) -> str:
    """The one line of a file only its owner may read (as ssh treats a private key): OSError
    when it cannot be opened (a symlink is refused), ValueError saying what is wrong with it."""
    fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as f:
        mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
        if mode & 0o077:
            raise ValueError(f"has mode {mode:04o}; it must be readable by its owner only (chmod 600 {where})")
        text = f.read()
    value = text[:-1] if text.endswith("\n") else text
    if not value or "\n" in value:
        raise ValueError("must hold the value on one line")
    return value


def fill(text: str | None, src: str, who: str) -> tuple[str | None, str]:
    """A step's stdin with the secret in place of MARK, and the secret (to redact from errors)."""
    if not src or text is None or MARK not in text:
        return text, ""
    value = read(src, who)
    return text.replace(MARK, value), value


def mark(index: int, count: int) -> str:
    """The mark of the index-th of `count` secrets in one step (MARK when there is one)."""
    return MARK if count == 1 else f"(sensitive#{index + 1})"


def join_sources(sources: list[str]) -> str:
    """Step.secret for several secrets (one per line; a source never holds a line break)."""
    return "\n".join(sources)


def fill_all(text: str | None, src: str, who: str) -> tuple[str | None, list[str]]:
    """fill() for a step that takes several secrets (`(sensitive#N)` marks, join_sources)."""
    sources = src.split("\n") if src else []
    if len(sources) <= 1:
        filled, value = fill(text, src, who)
        return filled, [value] if value else []
    values = []
    for i, one in enumerate(sources):
        if text is not None and mark(i, len(sources)) in text:
            value = read(one, who)
            text = text.replace(mark(i, len(sources)), value)
            values.append(value)
    return text, values


def redaction_values(src: str) -> list[str]:
    """The values a step's sources hold, to blank out of a failed step's output (a tool that echoes
    its environment, as podman-compose prints each `podman run -e`); unreadable ones are skipped."""
    out = []
    for one in filter(None, (src or "").split("\n")):
        try:
            out.append(read(one, ""))
        except PlanError:
            continue
    return out
