"""Start-up (issue 22): importing the engine builds no pydantic validator; each model builds
its own on first use (`defer_build`), so a command pays only for the models it touches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

CODE = """
import converge.cli, converge.engine
from pydantic import BaseModel

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

built = sorted({f"{c.__module__}.{c.__qualname__}" for c in subclasses(BaseModel)
                if c.__module__.startswith("converge.") and c.__pydantic_complete__
                and "[" not in c.__qualname__})
print("\\n".join(built))
"""

# Ref is built at import by its first use: modules keep Ref constants.
USED_AT_IMPORT = {"converge.model.Ref"}


def test_importing_the_engine_builds_no_converge_validator() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True)
    built = set(out.stdout.split()) - USED_AT_IMPORT
    assert not built, "models built at import (add defer_build=True):\n" + "\n".join(sorted(built))
