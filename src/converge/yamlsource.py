"""Messages for manifests: a pydantic validation error of a kind's spec, located at the key or
value it is about in the YAML it came from (see yamlread for reading and positions).

Editing (the API) uses ruamel.yaml's round-trip loader on the one file it changes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from .errors import Issue, suggest
from .resources import Kind
from .yamlread import Location, locate

_SCHEMAS: dict[type, dict[str, Any]] = {}


def _schema_keys(schema: dict[str, Any], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at a location, read from the spec's JSON schema (for did-you-mean)."""
    defs = schema.get("$defs", {})

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
        for alt in s.get("anyOf", []):
            alt = resolve(alt)
            if "properties" in alt or "items" in alt:
                return alt
        return s

    s = resolve(schema)
    for part in loc:
        if isinstance(part, int):
            s = resolve(s.get("items", {}))
        else:
            s = resolve(s.get("properties", {}).get(part, {}))
    return list(s.get("properties", {}))


_TAG = re.compile(r"[a-z][a-z-]*\[.*\]")


def spec_issues(kind: Kind, error: ValidationError, shown: str, node: Any, base_path: str, at: Location) -> list[Issue]:
    schema = _SCHEMAS.setdefault(kind.spec, kind.spec.model_json_schema())
    out = []
    for err in error.errors():
        # pydantic puts validator/union tags into locations (`function-before[parse_size(), int]`,
        # `list[str]`): they are not fields. A user's key (even one like "[") is kept.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _TAG.fullmatch(p)))
        where = locate(shown, node, loc, at)
        path = ".".join([base_path, *(str(p) for p in loc)])
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden" and err["loc"]:
            key = err["loc"][-1]
            msg = f"unknown key {key!r}" + suggest(str(key), _schema_keys(schema, loc[:-1]))
        elif err["type"] in ("missing",):
            msg = "required field is missing"
        elif err["type"].endswith("_type") or err["type"] in ("model_type", "dict_type", "list_type"):
            msg += f", got {type(err['input']).__name__} {_short(err['input'])}"
        out.append(Issue(where.file, where.line, where.column, path, msg))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
