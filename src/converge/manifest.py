"""Load a directory of manifests into one Desired set, with errors a person can act on.

Every problem is collected (not only the first) and located by file, line, column and field
path; the load either returns the whole valid set or raises ManifestError with all of them."""

from __future__ import annotations

import graphlib
import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .config import CONFIG_FILE, Config, ansible_hosts, load_config
from .errors import Issue, ManifestError, suggest
from .formats.compose import is_compose_file
from .model import Ref
from .resources import BY_KIND, KINDS, Kind, Spec
from .templating import render_templates
from .yamlread import UNPARSED, Location, PosDict, decode_source, display_path, locate, node_location, parse_yaml, plain, read_source
from .yamlread import node_location as at
from .yamlsource import spec_issues

PATTERNS = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
def sections() -> dict[tuple[str, ...], Kind]:
    """Manifest section -> kind, from the registry as it is now."""
    return {k.section: k for k in KINDS}


def top_level() -> list[str]:
    return sorted({s[0] for s in sections()} | {"vars"})


@dataclass
class Entry:
    """One declared resource: its validated spec, where it was declared, and its raw node."""

    spec: Spec
    location: Location
    node: Any  # its parsed value (a PosDict: knows where each field sits)
    section_path: str  # "shares.smb.media"


@dataclass
class Desired:
    """Everything the manifests declare: kind -> name -> Entry."""

    directory: str = ""
    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # converge.yaml `settings:`, per kind
    declared_at: dict[str, dict[str, Location]] = field(default_factory=dict)  # every name, valid or not
    layer_of: dict[str, int] = field(default_factory=dict)  # shown file -> its manifest directory (fleet hosts)
    overlays: list[str] = field(default_factory=list)  # "KIND/NAME: FILE:LINE overrides FILE:LINE"
    inventory: set[str] = field(default_factory=set)  # the host names of converge.yaml's inventory
    _specs: dict[str, dict[str, Spec]] = field(default_factory=dict, repr=False)

    def specs(self, kind: str) -> dict[str, Spec]:
        """{name: Spec} of one kind (kept: kinds ask for it once per resource while planning)."""
        cached = self._specs.get(kind)
        if cached is None or len(cached) != len(self.entries.get(kind, {})):
            cached = self._specs[kind] = {n: e.spec for n, e in self.entries.get(kind, {}).items()}
        return cached

    def refs(self) -> list[Ref]:
        return [Ref(kind=k, name=n) for k, names in self.entries.items() for n in names]

    def has(self, ref: Ref) -> bool:
        return ref.name in self.entries.get(ref.kind, {})

    def spec(self, ref: Ref) -> Spec | None:
        entry = self.entries.get(ref.kind, {}).get(ref.name)
        return entry.spec if entry else None

    def count(self) -> dict[str, int]:
        return {k.kind: len(self.entries.get(k.kind, {})) for k in KINDS}


def manifest_files(directory: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith(PATTERNS) and not f.startswith(".") and not (dirpath == directory and f == CONFIG_FILE) \
                    and not is_compose_file(f):  # a stack's compose file (stacks: file:)
                found.append(os.path.join(dirpath, f))
    return found



def load(directory: str, present: set[Ref] | None = None, extra_vars: dict[str, Any] | None = None) -> Desired:
    """Load, validate and cross-check every manifest of a directory. `present` are the refs that
    exist on the host: a reference to one of them is fine even when it is not declared."""
    desired, issues = load_unchecked(directory, extra_vars)
    issues += check_references(desired, present)
    if issues:
        raise ManifestError(issues)
    return desired


def load_unchecked(directory: str, extra_vars: dict[str, Any] | None = None,
                   overrides: dict[str, str | None] | None = None, *, layers: list[str] | None = None,
                   host_vars: dict[str, Any] | None = None, skip: list[str] | None = None) -> tuple[Desired, list[Issue]]:
    """`overrides`: path -> text to use instead of the file (None: as if it were gone), so an edit
    is validated with the whole set before it is written. `layers`: the manifest directories of an
    inventory host, in order (a resource declared in a later one wins over an earlier one's);
    `host_vars` win over the manifests' `vars:`; `skip`: directories no layer reads (other hosts' own).
    Without layers (the directory's own host) every inventory host's own `{name}` overlay is skipped."""
    overrides = {os.path.abspath(k): v for k, v in (overrides or {}).items()}
    desired = Desired(directory=directory)
    issues: list[Issue] = []
    if not os.path.isdir(directory):
        return desired, [Issue(display_path(directory), 0, 0, "", "no such directory")]
    try:
        config = load_config(directory)
    except ManifestError:  # reported by whoever opened the directory; the defaults serve here
        config = Config()
    limit = config.limits.manifest_size
    desired.settings = config.settings
    if config.hosts or config.inventory:  # names a replication's target.host may use
        from .fleet.inventory import overlays, resolve

        extra = ansible_hosts(directory, config, [])
        desired.inventory = set(config.hosts) | set(extra)
        if not layers and not skip:  # the directory's own host: no inventory host's own overlay
            skip = overlays(resolve(directory, config.hosts, config.host_defaults, config.host_groups, extra))

    def read(path: str, shown: str) -> str | None:
        if os.path.abspath(path) in overrides:
            return decode_source((overrides[os.path.abspath(path)] or "").encode("utf-8", "surrogatepass"), shown, issues, limit)
        return read_source(path, shown, issues, limit, directory)

    if layers:
        files = []
        for index, layer in enumerate(layers):
            if not os.path.isdir(layer):
                issues.append(Issue(display_path(layer), 0, 0, "", "no such manifest directory"))
                continue
            # a layer's subdirectories are its own, except those that are manifest directories
            # themselves (this host's later layers, other hosts' overlays)
            nested = [d for d in {*layers, *(skip or [])} if d.startswith(layer.rstrip("/") + "/")]
            for path in manifest_files(layer):
                if path not in files and not any(path.startswith(d.rstrip("/") + "/") for d in nested):
                    files.append(path)
                    desired.layer_of[display_path(path)] = index
    else:
        files = [p for p in manifest_files(directory) if not any(p.startswith(d.rstrip("/") + "/") for d in skip or [])]
    files += sorted(p for p, text in overrides.items() if text is not None and p not in map(os.path.abspath, files))
    files = [f for f in files if overrides.get(os.path.abspath(f), "") is not None]
    if not files:
        issues.append(Issue(display_path(directory), 0, 0, "", "no manifests here (*.yaml, *.yaml.j2)"))
    docs: list[tuple[str, Any]] = []
    variables: dict[str, Any] = dict(extra_vars or {})
    for path in (f for f in files if not f.endswith(".j2")):
        shown = display_path(path)
        text = read(path, shown)
        doc = parse_yaml(text, shown, issues) if text is not None else UNPARSED
        docs.append((shown, doc))
        if isinstance(doc, dict) and isinstance(doc.get("vars"), dict):  # for the templates
            variables.update(plain(doc["vars"]))
    variables.update(host_vars or {})
    templates: list[tuple[str, str]] = []
    for path in (f for f in files if f.endswith(".j2")):
        text = read(path, display_path(path))
        if text is not None:
            templates.append((display_path(path), text))
    for (shown, _), text in zip(templates, render_templates(templates, variables, limit, issues), strict=True):
        if text is not None:
            docs.append((shown, parse_yaml(text, shown, issues)))
    desired.files = [display_path(f) for f in files]
    desired.vars = variables
    for shown, doc in docs:
        _load_document(desired, shown, doc, issues)
    issues += _validate_sets(desired)
    return desired, issues


def _load_document(desired: Desired, shown: str, doc: Any, issues: list[Issue]) -> None:
    if doc is UNPARSED:
        return
    known, allowed = sections(), top_level()
    if doc is None:
        issues.append(Issue(shown, 1, 1, "", "the file is empty: expected a mapping of sections ("
                            + ", ".join(allowed) + ")"))
        return
    if not isinstance(doc, dict):
        issues.append(Issue(shown, 1, 1, "", f"expected a mapping of sections ({', '.join(allowed)}), "
                            f"got a {_type_name(doc)}"))
        return
    for key, value in doc.items():
        where = node_location(shown, doc, key)
        if key == "vars":
            continue
        subsections = sorted(s[1] for s in known if len(s) == 2 and s[0] == key)
        if (str(key),) in known:
            _load_section(desired, known[(str(key),)], shown, value, where, str(key), issues)
        elif subsections:
            if value is None:
                continue
            if not isinstance(value, dict):
                issues.append(Issue(where.file, where.line, where.column, str(key),
                                    f"expected a mapping of {', '.join(subsections)}, got a {_type_name(value)}"))
                continue
            for sub, subvalue in value.items():
                subwhere = node_location(shown, value, sub)
                if (key, sub) not in known:
                    issues.append(Issue(subwhere.file, subwhere.line, subwhere.column, f"{key}.{sub}",
                                        f"unknown section {sub!r}{suggest(sub, subsections)}; allowed: "
                                        + ", ".join(subsections)))
                    continue
                _load_section(desired, known[(key, sub)], shown, subvalue, subwhere, f"{key}.{sub}", issues)
        else:
            issues.append(Issue(where.file, where.line, where.column, str(key),
                                f"unknown section {key!r}{suggest(key, allowed)}; allowed: " + ", ".join(allowed)))


def _load_section(desired: Desired, kind: Kind, shown: str, value: Any, where: Location, path: str,
                  issues: list[Issue]) -> None:
    if value is None:
        return
    if kind.singleton:  # one resource: the section is its fields
        value = _singleton(kind.singleton, value, where)
    if not isinstance(value, dict):
        issues.append(Issue(where.file, where.line, where.column, path,
                            f"expected a mapping of {kind.kind} names to their fields, got a {_type_name(value)}"))
        return
    entries = desired.entries.setdefault(kind.kind, {})
    seen = desired.declared_at.setdefault(kind.kind, {})
    for name, fields in value.items():
        at = node_location(shown, value, name)
        rpath = path if kind.singleton else f"{path}.{name}"
        try:
            if not isinstance(name, str):
                raise ValueError(f"a {kind.kind} name must be a string, got {_type_name(name)} {name!r}")
            kind.check_name(name)
        except ValueError as e:
            shown_path = rpath if len(str(name)) <= 80 else f"{path}.{str(name)[:60]}..."
            issues.append(Issue(at.file, at.line, at.column, shown_path, str(e)))
            continue
        if name in seen and _overlaid(desired, kind, name, at, seen[name]):
            continue
        if name in seen:
            first = seen[name]
            issues.append(Issue(at.file, at.line, at.column, rpath,
                                f"{kind.kind} {name!r} is declared twice: here and at "
                                f"{first.file}:{first.line}:{first.column}"))
            continue
        seen[name] = at
        if fields is None:
            fields = PosDict()
        if not isinstance(fields, dict):
            issues.append(Issue(at.file, at.line, at.column, rpath,
                                f"expected a mapping of fields, got a {_type_name(fields)} {fields!r}"))
            continue
        try:
            spec = kind.spec.model_validate(fields, strict=True)
        except ValidationError as e:
            issues.extend(spec_issues(kind, e, shown, fields, rpath, at))
            continue
        entries[name] = Entry(spec, at, fields, rpath)


def _overlaid(desired: Desired, kind: Kind, name: str, here: Location, first: Location) -> bool:
    """A resource declared in two manifest directories of a host: the later directory's wins
    (its entry replaces the other, or the other is kept); True when that settled it."""
    mine, theirs = desired.layer_of.get(here.file, 0), desired.layer_of.get(first.file, 0)
    if mine == theirs:
        return False  # twice in one directory: an error, as anywhere
    winner, loser = (here, first) if mine > theirs else (first, here)
    desired.overlays.append(f"{kind.kind}/{name}: {winner.file}:{winner.line} overrides {loser.file}:{loser.line}")
    if mine > theirs:
        desired.entries.get(kind.kind, {}).pop(name, None)
        del desired.declared_at[kind.kind][name]
        return False  # load this one in its place
    return True


def _singleton(name: str, fields: Any, where: Location) -> PosDict:
    wrapped = PosDict({name: fields})
    wrapped.key_pos = {name: (max(where.line - 1, 0), max(where.column - 1, 0))}
    return wrapped


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _validate_sets(desired: Desired) -> list[Issue]:
    issues = []
    for kind in KINDS:
        entries = desired.entries.get(kind.kind, {})
        if not entries:
            continue
        for name, fpath, message in kind.validate_set({n: e.spec for n, e in entries.items()}, desired):
            entry = entries[name]
            parts = [int(p) if p.isdigit() else p for p in fpath.split(".")] if fpath else []
            where = locate(entry.location.file, entry.node, parts, entry.location)
            issues.append(Issue(where.file, where.line, where.column,
                                entry.section_path + (f".{fpath}" if fpath else ""), message))
    return issues


def check_references(desired: Desired, present: set[Ref] | None) -> list[Issue]:
    """Every dependency is declared or present on the host; no dependency cycles."""
    issues = []
    graph: dict[Ref, set[Ref]] = {}
    for kind_name, entries in desired.entries.items():
        kind = BY_KIND[kind_name]
        for name, entry in entries.items():
            ref = kind.ref(name)
            graph[ref] = set()
            for dep in kind.depends(name, entry.spec):
                if desired.has(dep):
                    graph[ref].add(dep)
                elif present is None or dep not in present:
                    fpath, where = _field_naming(entry, dep.name)
                    known = desired.declared_at.get(dep.kind, {})
                    issues.append(Issue(where.file, where.line, where.column, entry.section_path + fpath,
                                        f"{dep.kind} {dep.name!r} is not declared"
                                        + (" nor present on the host" if present is not None else "")
                                        + suggest(dep.name, known)))
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        cycle: list[Ref] = e.args[1]
        entry = desired.entries[cycle[0].kind][cycle[0].name]
        issues.append(Issue(entry.location.file, entry.location.line, entry.location.column, entry.section_path,
                            "dependency cycle: " + " → ".join(str(r) for r in cycle)))
    return issues


def _field_naming(entry: Entry, name: str) -> tuple[str, Location]:
    """The field of a resource that mentions a referenced name (for the error's path and position)."""
    def walk(node: Any, path: str) -> tuple[str, Location] | None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            if isinstance(value, str) and (value == name or value.startswith(name + ":")
                                           or (value[:1] in "@+&" and value[1:] == name)):  # smb @group
                return f"{path}.{key}", at(entry.location.file, node, key)
            found = walk(value, f"{path}.{key}")
            if found:
                return found
        return None

    return walk(entry.node, "") or ("", entry.location)
