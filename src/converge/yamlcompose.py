"""YAML text to dicts and lists that remember where every key and item sits, with bounds.

libyaml (PyYAML's C parser) turns the text into events; the values are built here from those
events without recursion, so no input can exhaust the stack: libyaml's own C composer crashes
the process on deeply nested flow collections, and a recursive builder raises RecursionError.
The YAML 1.2 core schema's implicit types apply (`on`/`off`/`yes`/`no` stay strings, `22:22` is
not a number). Two bounds keep a small file from taking the machine: nesting depth, and the
number of values that aliases copy (a "billion laughs" document is a few hundred bytes)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

MAX_DEPTH = 64  # manifests nest 6 levels or so; a bound far above that, far below any stack limit
MAX_ALIAS_VALUES = 100_000  # values copied through aliases, over one document


class PosDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the (line, column), 0-based, of itself and of each key."""

    pos: tuple[int, int] = (0, 0)
    key_pos: dict[Any, tuple[int, int]]


class PosList(list):  # type: ignore[type-arg]
    pos: tuple[int, int] = (0, 0)
    item_pos: list[tuple[int, int]]


class YamlProblem(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.mark = mark


class _Loader(yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml with the YAML 1.2 core schema's implicit types."""


_MAYBE_NOT_STR = frozenset("-+.0123456789~nNtTfF")
_STR = "tag:yaml.org,2002:str"


def _resolve(self: Any, kind: Any, value: str, implicit: Any) -> str:
    # Fast path: a plain scalar that cannot be null/bool/number is a string (most names and values).
    if kind is yaml.ScalarNode and implicit[0] and value and value[0] not in _MAYBE_NOT_STR:
        return _STR
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


def _scalar(tag: str, value: str, mark: Any) -> Any:
    if tag == _STR:
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        try:
            if value.startswith(("0o", "0x")):
                return int(value[2:], 8 if value[1] == "o" else 16)
            return int(value, 10)
        except ValueError:  # past Python's 4300 digits (an explicit !!int tag on a non-number, too)
            raise YamlProblem(f"{_quote(value)} is not an integer of up to 4300 digits", mark) from None
    if tag == "tag:yaml.org,2002:float":
        low = value.lower()
        try:
            return float(low.replace(".inf", "inf").replace(".nan", "nan"))
        except ValueError:  # an explicit !!float tag on a non-number
            raise YamlProblem(f"{_quote(value)} is not a number", mark) from None
    raise YamlProblem(f"unsupported tag {tag!r}", mark)


def _quote(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:30]) + f"... ({len(value)} characters)"


def _copy(value: Any) -> Any:
    """An alias's own copy of its anchor's value (positions kept: they say where the text is)."""
    if isinstance(value, PosDict):
        out = PosDict((k, _copy(v)) for k, v in value.items())
        out.pos, out.key_pos = value.pos, dict(value.key_pos)
        return out
    if isinstance(value, PosList):
        items = PosList(_copy(v) for v in value)
        items.pos, items.item_pos = value.pos, list(value.item_pos)
        return items
    return value


class _Open:
    """A mapping or list being built: its values so far, its anchor, how many values it holds."""

    __slots__ = ("value", "anchor", "size", "height", "key", "key_at", "has_key")

    def __init__(self, value: PosDict | PosList, anchor: str | None) -> None:
        self.value, self.anchor, self.size, self.height = value, anchor, 1, 1
        self.key: Any = None
        self.key_at: tuple[int, int] = (0, 0)
        self.has_key = False


def compose(text: str) -> Any:
    """The one document of a YAML text (None when empty), as PosDict / PosList / scalars."""
    loader = _Loader(text)
    try:
        return _compose(loader)
    finally:
        loader.dispose()


def _compose(loader: Any) -> Any:
    anchors: dict[str, tuple[Any, int, int]] = {}  # name -> value, values in it, levels of nesting
    stack: list[_Open] = []
    root: list[Any] = [None]
    copied = 0
    documents = 0

    def add(value: Any, size: int, height: int, at: tuple[int, int], mark: Any) -> None:
        if not stack:
            root[0] = value
            return
        top = stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        into = top.value
        if isinstance(into, PosList):
            into.append(value)
            into.item_pos.append(at)
        elif not top.has_key:
            if isinstance(value, (dict, list)):
                raise YamlProblem("a mapping or list cannot be a key", mark)
            top.key, top.key_at, top.has_key = value, at, True
        else:
            key = top.key
            if key in into:
                raise YamlProblem(f"duplicate key {key!r} (first at line {into.key_pos[key][0] + 1})",
                                  _Mark(top.key_at))
            into[key] = value
            into.key_pos[key] = top.key_at
            top.has_key = False

    while loader.check_event():
        event = loader.get_event()
        kind = type(event)
        mark = event.start_mark
        if kind is ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            value = _scalar(tag, event.value, mark)
            if event.anchor:
                anchors[event.anchor] = (value, 1, 0)
            add(value, 1, 0, (mark.line, mark.column), mark)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(mark)
            if kind is MappingStartEvent:
                new: PosDict | PosList = PosDict()
                new.key_pos = {}
            else:
                new = PosList()
                new.item_pos = []
            new.pos = (mark.line, mark.column)
            stack.append(_Open(new, event.anchor))
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            done = stack.pop()
            if done.anchor:
                anchors[done.anchor] = (done.value, done.size, done.height)
            add(done.value, done.size, done.height, done.value.pos, mark)
        elif kind is AliasEvent:
            if event.anchor not in anchors:
                raise YamlProblem(f"alias *{event.anchor} refers to no anchor before it (or to the collection "
                                  "that holds it)", mark)
            value, size, height = anchors[event.anchor]
            if len(stack) + height > MAX_DEPTH:  # an alias nests its anchor's levels here again
                raise _too_deep(mark)
            copied += size
            if copied > MAX_ALIAS_VALUES:
                raise YamlProblem(f"aliases copy more than {MAX_ALIAS_VALUES} values (an alias bomb?); allowed: "
                                  f"up to {MAX_ALIAS_VALUES} values copied through aliases in one file", mark)
            add(_copy(value), size, height, (mark.line, mark.column), mark)
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise YamlProblem("a second document (---) in one file; allowed: one document per file", mark)
    return root[0]


def _too_deep(mark: Any) -> YamlProblem:
    return YamlProblem(f"nested more than {MAX_DEPTH} levels deep; allowed: up to {MAX_DEPTH} levels", mark)


class _Mark:
    """A position as libyaml's marks carry it (0-based line and column)."""

    def __init__(self, at: tuple[int, int]) -> None:
        self.line, self.column = at
