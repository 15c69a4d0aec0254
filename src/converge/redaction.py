"""The one way converge hides a secret. Sensitivity is structural and declared once: a spec field
flagged `x-converge-sensitive` (its values), and a step's `redact` list (values that reach its
argv, stdin or a written file). Plan text, plan JSON, logs, failures, API answers and events all
mask through these two functions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "(sensitive)"


def mask(text: str, secrets: Iterable[str]) -> str:
    """text with every occurrence of each (non-empty) secret replaced by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def mask_fields(sensitive: frozenset[str], data: dict[str, Any]) -> dict[str, Any]:
    """A spec's fields as shown: a sensitive mapping keeps its keys (which variables are set is not
    secret), every other sensitive value is MASK."""
    return {k: ({kk: MASK for kk in v} if isinstance(v, dict) else MASK) if k in sensitive and v else v
            for k, v in data.items()}
