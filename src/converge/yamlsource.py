"""YAML sources of manifests: parsing, Jinja2 rendering, positions of keys, and messages.

Manifests are read with libyaml (PyYAML's C parser, ~100x faster than a pure-Python loader:
a 10 000-resource directory parses in well under a second) under the YAML 1.2 core schema
(`on`/`off`/`yes`/`no` stay strings, `22:22` is not a number), into dicts and lists that
remember where every key and item sits, so an error in a value points at that value.
Editing (the API) uses ruamel.yaml's round-trip loader on the one file it changes."""

from __future__ import annotations

import difflib
import os
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import Issue
from .resources import Kind


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0  # 1-based
    column: int = 0


class PosDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the (line, column), 0-based, of itself and of each key."""

    pos: tuple[int, int] = (0, 0)
    key_pos: dict[Any, tuple[int, int]]


class PosList(list):  # type: ignore[type-arg]
    pos: tuple[int, int] = (0, 0)
    item_pos: list[tuple[int, int]]


class _Loader(yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml with the YAML 1.2 core schema's implicit types."""


_MAYBE_NOT_STR = frozenset("-+.0123456789~nNtTfF")
_PLAIN_TAGS: dict[str, str] = {}  # a plain scalar's tag depends on its text alone; keys and values repeat


def _resolve(self: Any, kind: Any, value: str, implicit: Any) -> str:
    if kind is yaml.ScalarNode and implicit[0]:
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            # Fast path: a plain scalar that cannot be null/bool/number is a string (most names and values).
            tag = "tag:yaml.org,2002:str" if value and value[0] not in _MAYBE_NOT_STR else \
                yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)
            if len(_PLAIN_TAGS) < 100_000:
                _PLAIN_TAGS[value] = tag
        return tag
    return yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)  # type: ignore[no-any-return]


_Loader.resolve = _resolve  # type: ignore[method-assign]
_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                                r"|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
]:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


class YamlProblem(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.mark = mark


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        if value.startswith(("0o", "0x")):
            return int(value[2:], 8 if value[1] == "o" else 16)
        return int(value, 10)
    if tag == "tag:yaml.org,2002:float":
        low = value.lower()
        return float(low.replace(".inf", "inf").replace(".nan", "nan"))
    raise YamlProblem(f"unsupported tag {tag!r}", node.start_mark)


def _build(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        items = PosList(_build(n) for n in node.value)
        items.pos = (node.start_mark.line, node.start_mark.column)
        items.item_pos = [(n.start_mark.line, n.start_mark.column) for n in node.value]
        return items
    if isinstance(node, yaml.MappingNode):
        mapping = PosDict()
        mapping.pos = (node.start_mark.line, node.start_mark.column)
        mapping.key_pos = {}
        for key_node, value_node in node.value:
            key = _build(key_node)
            if isinstance(key, (dict, list)):
                raise YamlProblem("a mapping or list cannot be a key", key_node.start_mark)
            if key in mapping:
                line = mapping.key_pos[key][0] + 1
                raise YamlProblem(f"duplicate key {key!r} (first at line {line})", key_node.start_mark)
            mapping[key] = _build(value_node)
            mapping.key_pos[key] = (key_node.start_mark.line, key_node.start_mark.column)
        return mapping
    raise YamlProblem("unsupported YAML node", node.start_mark)


def display_path(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


class Unparsed:
    """What parse_yaml returns when the text is not YAML (its error is already reported)."""


UNPARSED = Unparsed()


def parse_yaml(text: str, shown: str, issues: list[Issue]) -> Any:
    try:
        node = yaml.compose(text, Loader=_Loader)
        return None if node is None else _build(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        issues.append(Issue(shown, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                            f"YAML syntax error: {problem}"))
    except YamlProblem as e:
        issues.append(Issue(shown, e.mark.line + 1, e.mark.column + 1, "", f"YAML error: {e}"))
    except (yaml.YAMLError, ValueError) as e:  # e.g. bad unicode, a number out of range
        issues.append(Issue(shown, 0, 0, "", f"YAML error: {e}"))
    return UNPARSED


def render_template(path: str, shown: str, text: str, variables: dict[str, Any], issues: list[Issue]) -> str | None:
    import jinja2  # only when a .j2 manifest exists: it costs 40 ms to import

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
    pos = None
    if key is not None and isinstance(node, PosDict):
        pos = node.key_pos.get(key)
    elif key is not None and isinstance(node, PosList) and isinstance(key, int) and key < len(node.item_pos):
        pos = node.item_pos[key]
    elif isinstance(node, (PosDict, PosList)):
        pos = node.pos
    return Location(shown, pos[0] + 1, pos[1] + 1) if pos else Location(shown)


def locate(shown: str, node: Any, loc: Iterable[Any], fallback: Location) -> Location:
    """The deepest position known for a pydantic error location inside a resource's node."""
    best = fallback
    for part in loc:
        if isinstance(node, PosDict) and part in node:
            best = node_location(shown, node, part)
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and part < len(node):
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


def plain(node: Any) -> Any:
    """Parsed YAML to builtin dicts and lists (positions dropped)."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
