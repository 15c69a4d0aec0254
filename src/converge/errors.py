"""The project's own errors. Anything a user can cause ends in one of these, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


class ConvergeError(Exception):
    """Base of every error the CLI reports as a message (exit 1)."""


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in the manifests, located as precisely as YAML allows."""

    file: str = ""
    line: int = 0  # 1-based; 0 when unknown
    column: int = 0  # 1-based; 0 when unknown
    path: str = ""  # field path, e.g. datasets.tank/media.properties.quota
    message: str = ""

    def __str__(self) -> str:
        where = self.file or "<manifests>"
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "path": self.path, "message": self.message}


@dataclass
class ManifestError(ConvergeError):
    """All the problems found in one load of a manifest directory."""

    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(i) for i in sorted(self.issues))


class HostError(ConvergeError):
    """The host could not be reached or read."""


@dataclass
class CommandFailed(HostError):
    argv: list[str]
    returncode: int
    stderr: str = ""
    stdout: str = ""

    def __str__(self) -> str:
        detail = (self.stderr or self.stdout).strip()
        return f"command {' '.join(self.argv)!s} failed (exit {self.returncode})" + (f": {detail}" if detail else "")


class PlanError(ConvergeError):
    """A plan cannot be made or applied as asked (refused destroy, stale plan, bad target)."""


class StalePlan(PlanError):
    pass


class NotConverged(ConvergeError):
    """After an apply the host still differs from the manifests: a bug in a kind or its normalisation."""


class LockBusy(ConvergeError):
    pass


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of the choices, or ""."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
