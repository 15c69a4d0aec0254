"""Edits of manifests, as the API makes them: the smallest node changes, everything else stays.

A file is loaded with ruamel.yaml's round-trip loader (comments, key order, quoting and flow
style kept), only the changed keys of one resource are touched, the whole directory is validated
with the edit in place (the same checks as `converge validate`), and only then is the file
written atomically and, in a git repository, committed."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from .errors import ConvergeError, Issue
from .fsutil import atomic_write
from .manifest import Desired, load_unchecked
from .resources import BY_KIND, Kind
from .yamlread import PosDict, parse_yaml

NEW_FILE = "api.yaml"
HEADER = "# yaml-language-server: $schema=https://converge.dev/schema/manifest.schema.json\n# resources created through the converge API\n"


class EditError(ConvergeError):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.details = status, code, details or []


def round_trip() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line the user wrote
    y.indent(mapping=2, sequence=4, offset=2)
    return y


@dataclass
class Edit:
    path: str  # the file changed
    before: str
    after: str


def declaring_file(desired: Desired, kind: str, name: str, directory: str) -> str | None:
    entry = desired.entries.get(kind, {}).get(name)
    if entry is None:
        return None
    return os.path.abspath(entry.location.file if os.path.isabs(entry.location.file)
                           else os.path.join(os.getcwd(), entry.location.file))


def file_for_new(desired: Desired, kind: Kind, directory: str) -> str:
    """The file that already holds this kind (first by name, not a template), else api.yaml."""
    files = sorted({declaring_file(desired, kind.kind, n, directory) or "" for n in desired.entries.get(kind.kind, {})})
    files = [f for f in files if f and not f.endswith(".j2")]
    return files[0] if files else os.path.join(os.path.abspath(directory), NEW_FILE)


def _section(doc: CommentedMap, kind: Kind, create: bool) -> CommentedMap | None:
    if kind.singleton:  # `system:` is the resource itself: its parent is the document
        return doc
    node = doc
    for part in kind.section:
        if part not in node or node[part] is None:
            if not create:
                return None
            node[part] = CommentedMap()
        node = node[part]
    return node


def _apply(node: CommentedMap, new: dict[str, Any]) -> None:
    """Make `node` equal to `new`, touching only the keys that differ."""
    for key in [k for k in node if k not in new]:
        del node[key]
    for key, value in new.items():
        current = node.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _apply(current, value)  # type: ignore[arg-type]
        elif key not in node or _plain(current) != value:
            if isinstance(value, list) and isinstance(current, list) and _plain(current) != value:
                if len(value) == len(current) and all(isinstance(v, dict) for v in value):
                    for old, new in zip(current, value, strict=True):  # a list of mappings: edit each in place
                        _apply(old, new) if isinstance(old, dict) else None
                    if _plain(current) == value:
                        continue
                current[:] = value  # in place: the list keeps its flow/block style and comments
            else:
                node[key] = value


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if isinstance(node, str):
        return str(node)
    return node


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: null removes a key, mappings merge, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def current_fields(path: str, kind: Kind, name: str) -> dict[str, Any] | None:
    with open(path, encoding="utf-8") as f:
        doc = round_trip().load(f.read())
    section = _section(doc, kind, create=False) if isinstance(doc, CommentedMap) else None
    name = kind.section[0] if kind.singleton else name
    if section is None or name not in section:
        return None
    return _plain(section[name]) or {}


def edit_resource(directory: str, desired: Desired, kind_name: str, name: str,
                  fields: dict[str, Any] | None) -> Edit:
    """Set a resource's fields (None deletes it) in the file that declares it (or the file for new ones)."""
    kind = BY_KIND[kind_name]
    path = declaring_file(desired, kind_name, name, directory)
    if path is None:
        if fields is None:
            raise EditError(404, "not_found", f"{kind_name} {name!r} is not declared")
        path = file_for_new(desired, kind, directory)
    if path.endswith(".j2"):
        raise EditError(409, "templated", f"{kind_name} {name!r} is declared in a template "
                        f"({os.path.relpath(path, directory)}): the API does not edit templates; edit the file")
    before = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    spliced = _splice(before, kind, name, fields)
    if spliced is not None:
        return Edit(path, before, spliced)
    y = round_trip()
    doc = y.load(before) if before.strip() else None
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
        before_text = HEADER if not before else before
    else:
        before_text = before
    section = _section(doc, kind, create=fields is not None)
    name = kind.section[0] if kind.singleton else name
    if fields is None:
        if section is not None and name in section:
            del section[name]
    else:
        assert section is not None
        if name in section and isinstance(section[name], dict):
            _apply(section[name], fields)
        else:
            section[name] = fields
    out = io.StringIO()
    y.dump(doc, out)
    after = out.getvalue()
    if not before.strip():
        after = before_text + after
    return Edit(path, before, after)


def _splice(text: str, kind: Kind, name: str, fields: dict[str, Any] | None) -> str | None:
    """The fast path: round-trip only the resource's own lines (a large file is not re-parsed by
    ruamel, and every other byte stays by construction). None when the layout is not the plain
    block style this handles; the caller then round-trips the whole file."""
    if kind.singleton:
        return None
    issues: list[Issue] = []
    doc = parse_yaml(text, "", issues) if text.strip() else None
    node: Any = doc
    for part in kind.section:
        if not isinstance(node, PosDict) or not isinstance(node.get(part), PosDict):
            return None
        node = node[part]
    section: PosDict = node
    keys = section.key_pos
    if issues or not keys or len({line for line, _ in keys.values()}) != len(keys) or len({c for _, c in keys.values()}) != 1:
        return None  # empty or flow-style section
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    column = next(iter(keys.values()))[1]
    if name in keys:
        start = keys[name][0]
        end = _block_end(lines, start, column)
        if fields is None:
            return "".join(lines[:start] + lines[end:])
        y = round_trip()
        entry = y.load("".join(line[column:] if line[:column].isspace() else line.lstrip(" ") for line in lines[start:end]))
        if not isinstance(entry, CommentedMap) or list(entry) != [name] or not isinstance(entry[name], dict):
            return None
        _apply(entry[name], fields)
    elif fields is None:
        return text
    else:
        start = end = _block_end(lines, max(line for line, _ in keys.values()), column)
        entry = {name: fields}
        y = round_trip()
    out = io.StringIO()
    y.dump(entry, out)
    block = "".join((" " * column + line) if line.strip() else line for line in out.getvalue().splitlines(keepends=True))
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _block_end(lines: list[str], start: int, column: int) -> int:
    """One past the last line of the entry whose key is on line `start` (trailing blank lines and
    comments stay with what follows)."""
    last = start
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[i]) - len(lines[i].lstrip(" ")) <= column:
            break
        last = i
    return last + 1


def validate_edit(directory: str, edit: Edit, extra_vars: dict[str, Any] | None = None) -> tuple[Desired, list[Issue]]:
    return load_unchecked(directory, extra_vars, overrides={edit.path: edit.after})


def write_edit(directory: str, edit: Edit, author: str, message: str) -> str | None:
    """Write atomically and, in a git repository, commit exactly that file: one transaction.
    On any failure the file (bytes and mode) and the git index are as they were, and EditError
    says why. Returns the commit id (None outside git, or when the edit changes nothing)."""
    if edit.after == edit.before:
        return None
    rel = os.path.relpath(edit.path, directory)
    saved = _snapshot(edit.path)
    try:
        atomic_write(edit.path, edit.after, mode=saved[1] if saved else 0o644)
    except OSError as e:
        raise _write_error(e, rel) from None
    if not os.path.isdir(os.path.join(directory, ".git")):
        return None
    try:
        return _commit(directory, rel, author, message)
    except EditError as e:
        try:
            _restore(edit.path, saved)
        except OSError as again:
            raise EditError(503, "restore_failed", f"{e} -- and putting {rel} back failed too ({again}): "
                            "check the file and `git status`") from None
        raise


def _snapshot(path: str) -> tuple[bytes, int] | None:
    try:
        with open(path, "rb") as f:
            return f.read(), os.fstat(f.fileno()).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _restore(path: str, saved: tuple[bytes, int] | None) -> None:
    """Put the file back as it was (a new file is removed)."""
    if saved is None:
        os.unlink(path)
        return
    fd, tmp = tempfile.mkstemp(prefix=".converge-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(saved[0])
        os.chmod(tmp, saved[1])
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_error(e: OSError, rel: str) -> EditError:
    if isinstance(e, IsADirectoryError):
        return EditError(409, "not_a_file", f"{rel} is a directory, not a manifest file; nothing was changed")
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return EditError(503, "read_only", f"cannot write {rel}: {e.strerror} (is the manifest directory "
                         "read-only for converge?); nothing was changed")
    if e.errno == errno.ENAMETOOLONG:
        return EditError(400, "bad_request", f"cannot write {rel}: the file name is too long")
    return EditError(503, "write_failed", f"cannot write {rel}: {e.strerror or e}; nothing was changed")


def _commit(directory: str, rel: str, author: str, message: str) -> str:
    """Commit only `rel`, whatever else the operator has staged. Paths are literal (`:(top)x*`
    is a file name, not a pathspec). The index keeps its old entry for `rel` unless this succeeds."""
    env = dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0")
    git = ["git", "--literal-pathspecs", "-C", directory]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*git, *args], capture_output=True, text=True, env=env)

    known = run("ls-files", "--stage", "--", rel)
    if known.returncode != 0:
        raise _git_error(known)
    if not known.stdout:  # a new file: `commit --only` needs it in the index first
        added = run("add", "--", rel)
        if added.returncode != 0:
            raise _git_error(added)
    committed = run("-c", f"user.name={author}", "-c", f"user.email={author}@converge.local", "commit", "-q",
                    "--only", "--author", f"{author} <{author}@converge.local>", "-m", message, "--", rel)
    if committed.returncode != 0:
        if not known.stdout:
            run("rm", "-q", "--cached", "--ignore-unmatch", "--", rel)
        raise _git_error(committed)
    head = run("rev-parse", "HEAD")
    return head.stdout.strip()


def _git_error(result: subprocess.CompletedProcess[str]) -> EditError:
    text = (result.stderr or result.stdout).strip()
    if "index.lock" in text:
        return EditError(409, "busy", f"git is busy (another git command holds the index lock); nothing was "
                         f"changed, try again: {text}")
    return EditError(503, "git_failed", f"git could not commit the edit; nothing was changed: {text}")
