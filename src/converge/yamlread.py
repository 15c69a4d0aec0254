"""Reading YAML with positions: bounded reads of files inside a directory, libyaml parsing into
dicts and lists that remember where each key and item sits, and locations for messages.

Libyaml (PyYAML's C parser) is ~100x faster than a pure-Python loader: a 10 000-resource
directory parses in well under a second (see yamlcompose). Files are read with bounds: only
regular files inside the directory, at most the size limit, UTF-8 text. Used by manifests,
converge.yaml, inventories and compose files alike."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import Issue
from .yamlcompose import PosDict, PosList, YamlProblem, compose

__all__ = ["PosDict", "PosList"]  # also here: modules import them from here


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0  # 1-based
    column: int = 0


def display_path(path: str) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


class Unparsed:
    """What parse_yaml returns when the text is not YAML (its error is already reported)."""


UNPARSED = Unparsed()


def parse_yaml(text: str, shown: str, issues: list[Issue]) -> Any:
    try:
        return compose(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(p) for p in (e.context, e.problem) if p)
        issues.append(Issue(shown, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                            f"YAML syntax error: {problem}"))
    except YamlProblem as e:
        issues.append(Issue(shown, e.mark.line + 1, e.mark.column + 1, "", f"YAML error: {e}"))
    except yaml.reader.ReaderError as e:  # a control character: locate it (libyaml gives an offset)
        line, column = _line_column(text, e.position)
        issues.append(Issue(shown, line, column, "", f"the character U+{e.character:04X} is not allowed in YAML "
                            "(control characters other than tab and newline); allowed: printable text"))
    except (yaml.YAMLError, ValueError) as e:  # e.g. bad unicode, a number out of range
        issues.append(Issue(shown, 0, 0, "", f"YAML error: {e}"))
    return UNPARSED


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - start + 1


def read_source(path: str, shown: str, issues: list[Issue], limit: int, inside: str) -> str | None:
    """A manifest's text; None with a located issue when it is not a regular file inside the
    directory `inside` (a link out of it would show another file's content in errors), is larger
    than `limit` bytes, or is not UTF-8 text."""
    real, home = os.path.realpath(path), os.path.realpath(inside)
    inner = os.path.relpath(real, home).split(os.sep)
    # Hidden places (.converge/ holds the host's state and the API's tokens) are not manifests either.
    if os.path.commonpath([real, home]) != home or any(p.startswith(".") and p != "." for p in inner):
        issues.append(Issue(shown, 0, 0, "", "a link to a file outside the manifest directory (or into a hidden "
                            "one): refused; allowed: files and links to files inside the manifest directory"))
        return None
    try:  # O_NONBLOCK: a FIFO must not hang the open; a regular file ignores it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        issues.append(Issue(shown, 0, 0, "", f"cannot read: {e.strerror}"))
        return None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            issues.append(Issue(shown, 0, 0, "", f"{what}; allowed: manifest files (*.yaml, *.yaml.j2)"))
            return None
        data = f.read(limit + 1)
    return decode_source(data, shown, issues, limit)


def decode_source(data: bytes, shown: str, issues: list[Issue], limit: int) -> str | None:
    """Bytes of a manifest (a file, or an edit's text) as text, within the size limit."""
    if len(data) > limit:
        issues.append(Issue(shown, 0, 0, "", f"the file is larger than {limit} bytes; allowed: up to {limit} bytes "
                            "a manifest (limits.manifest_size in converge.yaml)"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        column = len(data[line_start:e.start].decode("utf-8", "replace")) + 1
        issues.append(Issue(shown, data.count(b"\n", 0, e.start) + 1, column, "",
                            f"not UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded; allowed: UTF-8 text"))
        return None
    if "\x00" in text:
        line, column = _line_column(text, text.index("\x00"))
        issues.append(Issue(shown, line, column, "", "a NUL byte (a binary file?); allowed: UTF-8 text"))
        return None
    return text


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


_SCHEMAS: dict[type, dict[str, Any]] = {}


def plain(node: Any) -> Any:
    """Parsed YAML to builtin dicts and lists (positions dropped)."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
