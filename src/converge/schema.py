"""The JSON Schema of a manifest file, generated from the kinds' models
(`converge schema`; committed as schema/manifest.schema.json, checked by a test)."""

from __future__ import annotations

from typing import Any

from .resources import KINDS


def manifest_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {"vars": {"type": "object", "description": "variables for *.yaml.j2 manifests"}}
    for kind in KINDS:
        schema = kind.spec.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[kind.spec.__name__] = schema
        section = {
            "type": ["object", "null"],
            "description": f"{kind.kind} resources, keyed by name ({kind.name_allowed})",
            "propertyNames": {"pattern": f"^(?:{kind.name_pattern.pattern})$", "maxLength": kind.name_max_length},
            "additionalProperties": {"anyOf": [{"$ref": f"#/$defs/{kind.spec.__name__}"}, {"type": "null"}]},
        }
        if kind.singleton:
            section = {"anyOf": [{"$ref": f"#/$defs/{kind.spec.__name__}"}, {"type": "null"}],
                       "description": f"the {kind.kind} settings of this host (one per host)"}
        if len(kind.section) == 1:
            properties[kind.section[0]] = section
        else:
            parent = properties.setdefault(kind.section[0], {"type": ["object", "null"], "properties": {},
                                                             "additionalProperties": False})
            parent["properties"][kind.section[1]] = section
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://converge.dev/schema/manifest.schema.json",
        "title": "converge manifest",
        "description": "One file of a converge manifest directory; sections are kinds, keyed by resource name.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }
