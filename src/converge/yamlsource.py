"""YAML sources of manifests: parsing, Jinja2 rendering, positions of keys, and messages.

YAML is read with ruamel.yaml's round-trip loader, which keeps the position of every key,
so an error in a value points at that value."""

from __future__ import annotations

import difflib
import os
import traceback
from dataclasses import dataclass
from typing import Any, Iterable

import jinja2
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import Issue, ManifestError
from .resources import Kind



@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0  # 1-based
    column: int = 0


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def display_path(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def parse_yaml(text: str, shown: str, issues: list[Issue]) -> Any:
    try:
        return _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        issues.append(Issue(shown, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                            f"YAML syntax error: {problem}"))
    except Exception as e:  # ruamel raises a few unmarked errors (e.g. bad unicode)
        issues.append(Issue(shown, 0, 0, "", f"YAML error: {e}"))
    return None


def render_template(path: str, shown: str, text: str, variables: dict[str, Any], issues: list[Issue]) -> str | None:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    try:
        return env.from_string(text).render(**variables)
    except jinja2.TemplateSyntaxError as e:
        issues.append(Issue(shown, e.lineno or 0, 0, "", f"template error: {e.message}"))
    except jinja2.TemplateError as e:
        line = next((fr.lineno for fr in reversed(traceback.extract_tb(e.__traceback__))
                     if fr.filename == "<template>"), 0)
        issues.append(Issue(shown, line or 0, 0, "", f"template error: {e}"))
    return None


def node_location(shown: str, node: Any, key: Any = None) -> Location:
    """Where a key (or the node itself) sits in its file."""
    try:
        if key is not None and isinstance(node, CommentedMap):
            line, col = node.lc.key(key)
            return Location(shown, line + 1, col + 1)
        if key is not None and isinstance(node, CommentedSeq):
            line, col = node.lc.item(key)
            return Location(shown, line + 1, col + 1)
        return Location(shown, node.lc.line + 1, node.lc.col + 1)
    except (AttributeError, KeyError, IndexError, TypeError):
        return Location(shown)


def locate(shown: str, node: Any, loc: Iterable[Any], fallback: Location) -> Location:
    """The deepest position known for a pydantic error location inside a resource's node."""
    best = fallback
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            best = node_location(shown, node, part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            best = node_location(shown, node, part)
            node = node[part]
        else:
            break
    return best


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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


_SCHEMAS: dict[type, dict[str, Any]] = {}


def spec_issues(kind: Kind, error: ValidationError, shown: str, node: Any, base_path: str, at: Location) -> list[Issue]:
    schema = _SCHEMAS.setdefault(kind.spec, kind.spec.model_json_schema())
    out = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        where = locate(shown, node, loc, at)
        path = ".".join([base_path, *(str(p) for p in loc)])
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}" + suggest(loc[-1], _schema_keys(schema, loc[:-1]))
        elif err["type"] in ("missing",):
            msg = "required field is missing"
        elif err["type"].endswith("_type") or err["type"] in ("model_type", "dict_type", "list_type"):
            msg += f", got {type(err['input']).__name__} {_short(err['input'])}"
        out.append(Issue(where.file, where.line, where.column, path, msg))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def plain(node: Any) -> Any:
    """ruamel round-trip nodes to plain Python (keeps scalars' values)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if hasattr(node, "__float__") and type(node).__name__ == "ScalarFloat":
        return float(node)
    if type(node).__name__ in ("ScalarBoolean",):
        return bool(node)
    return node
