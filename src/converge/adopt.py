"""`converge import`: manifests for what already exists on a host, so converge can adopt it.
A plan on the written manifests is empty: they declare exactly what was read."""

from __future__ import annotations

import os
from typing import Any

from ruamel.yaml import YAML

from .fsutil import atomic_write
from .model import Facts
from .planner.diff import field_of, submodel, validated_by
from .resources import KINDS
from .types import format_size, parse_on_off, parse_size

HEADER = "# yaml-language-server: $schema=https://converge.dev/schema/manifest.schema.json\n"


def manifest_data(facts: Facts) -> dict[str, dict[str, Any]]:
    """file stem -> manifest document, one file per top-level section."""
    docs: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        if not kind.importable:
            continue
        found = facts.resources.get(kind.kind, {})
        entries = {}
        for name, observed in sorted(found.items()):
            if observed.info.get("system"):
                continue  # the distribution's accounts (below UID_MIN) are the system's, not the manifest's
            if observed.info.get("made_by"):
                continue  # a policy's or replication's snapshot: its run owns it, a declaration would not
            try:
                kind.check_name(name)
                spec = kind.spec.model_validate(observed.spec)
            except ValueError:
                continue  # a name or value converge cannot express stays unmanaged
            skip = set(kind.spec.meta_fields()) | kind.spec.flagged("x-converge-no-import")
            data = spec.model_dump(mode="json", exclude_none=True, exclude=skip)
            entries[name] = _importable(humanize(kind.spec, data))
        if not entries:
            continue
        doc = docs.setdefault(kind.section[0], {})
        if kind.singleton:
            doc[kind.section[0]] = entries.get(kind.singleton)
        elif len(kind.section) == 1:
            doc[kind.section[0]] = entries
        else:
            doc.setdefault(kind.section[0], {})[kind.section[1]] = entries
    return docs


def humanize(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Sizes as people write them (10G, not 10737418240); on/off as on/off. Same values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        field_type, _ = field_of(model, key)
        sub = submodel(field_type)
        if isinstance(value, dict) and sub is not None:
            out[key] = humanize(sub, value)
        elif isinstance(value, bool) and validated_by(field_type, parse_on_off):
            out[key] = "on" if value else "off"
        elif isinstance(value, int) and not isinstance(value, bool) and validated_by(field_type, parse_size):
            out[key] = format_size(value)
        else:
            out[key] = value
    return out


def _importable(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty values and request stamps: they declare nothing."""
    return {k: v for k, v in data.items() if v not in ({}, [], None) and not k.endswith("_requested")}


def write_manifests(facts: Facts, directory: str) -> dict[str, int]:
    os.makedirs(directory, exist_ok=True)
    yaml = YAML()
    yaml.default_flow_style = False
    written = {}
    for stem, doc in docs_sorted(manifest_data(facts)):
        path = os.path.join(directory, f"imported-{stem}.yaml")
        import io

        buf = io.StringIO()
        yaml.dump(doc, buf)
        atomic_write(path, HEADER + "# written by `converge import`: what this host had\n" + buf.getvalue())
        written[path] = _count(doc)
    return written


def _count(doc: dict[str, Any]) -> int:
    """Resources in one written document: each kind's section (a singleton's is one resource)."""
    total = 0
    for kind in KINDS:
        found: Any = doc
        for key in kind.section:
            found = found.get(key) if isinstance(found, dict) else None
        total += (1 if kind.singleton else len(found)) if found else 0
    return total


def docs_sorted(docs: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(docs.items())
