"""Collection GETs: filters, search, sort and pages, the same for every kind.

- a top-level field of the kind's spec filters on its value (`?state=stopped`), desired when
  declared, else as found on the host; `drift=true|false` and `managed=true|false` on status;
- `q=` finds a text in names, comment fields and the `#` comments of the entry (case-insensitive), `name=` a name prefix,
  `file=` the manifest that declares it;
- `sort=FIELD` (name, kind, file, managed, drift or a spec field), `-FIELD` descending;
- `offset`/`limit` or `page`/`per_page` (these win when both are sent); the answer has `total` and `has_next`.
Any other parameter, one given twice, or a value an enum or boolean field can never have is a 400
that names it."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from ..resources import BY_KIND
from .errors import ApiError

STATUS = ("drift", "managed")
SEARCH = ("q", "name", "sort", "file")
PAGING = ("offset", "limit", "page", "per_page")
ITEM_FIELDS = ("name", "kind", "file", "managed", "drift")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def spec_fields(kind: str) -> list[str]:
    return list(BY_KIND[kind].spec.model_fields)


def parameters(kind: str) -> list[str]:
    """Every query parameter a list of this kind takes."""
    return [*SEARCH, *PAGING, *STATUS, *(f for f in spec_fields(kind) if f not in (*SEARCH, *PAGING, *STATUS))]


def yaml_comments(directory: str) -> Callable[[dict[str, Any]], str]:
    """The `#` comments of an item's entry in its manifest: the lines just above its key, and its
    block. Each file is read once a request."""
    files: dict[str, list[str]] = {}

    def comments(item: dict[str, Any]) -> str:
        if not item.get("file") or not item.get("line"):
            return ""
        if item["file"] not in files:
            try:
                with open(os.path.join(directory, item["file"]), encoding="utf-8") as f:
                    files[item["file"]] = f.read().splitlines()
            except (OSError, UnicodeDecodeError):
                files[item["file"]] = []
        lines, start = files[item["file"]], item["line"] - 1
        if start >= len(lines):
            return ""
        indent = len(lines[start]) - len(lines[start].lstrip())
        above = start
        while above > 0 and lines[above - 1].lstrip().startswith("#"):
            above -= 1
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        return " ".join(m.group(1) for line in lines[above:end] for m in [_COMMENT.search(line)] if m)

    return comments


_COMMENT = re.compile(r"(?:^|\s)#\s?(.*)$")  # YAML: a comment starts a line or follows a space


def select(kind: str, items: list[dict[str, Any]], query: Mapping[str, str],
           comments: Callable[[dict[str, Any]], str] | None = None) -> dict[str, Any]:
    known = set(parameters(kind))
    for key in query:
        if key not in known:
            raise ApiError(400, f"unknown query parameter {key!r}; a list of {kind}s takes: {', '.join(parameters(kind))}",
                           details=[{"parameter": key}])
        if len(getattr(query, "getlist", lambda k: [k])(key)) > 1:  # else the last would win, unsaid
            raise ApiError(400, f"{key} is given more than once; give it once", details=[{"parameter": key}])
    fields = set(spec_fields(kind))
    for key, wanted in query.items():
        if key in STATUS:
            flag = _boolean(key, wanted)
            items = [i for i in items if bool(i[key]) == flag]
        elif key in fields:
            _check_value(kind, key, wanted)
            items = [i for i in items if _matches(_field(i, key), wanted)]
    if "q" in query:
        text = query["q"].lower()
        items = [i for i in items if text in i["name"].lower() or text in _comments(i).lower()
                 or (comments is not None and text in comments(i).lower())]
    items = [i for i in items if i["name"].startswith(query.get("name", ""))]
    if "file" in query:
        items = [i for i in items if i["file"] == query["file"]]
    items = _sorted(items, query.get("sort", "name"), fields)
    offset, limit = _window(query)
    page = items[offset:offset + limit]
    return {"items": page, "total": len(items), "offset": offset, "limit": limit,
            "page": offset // limit + 1, "per_page": limit, "has_next": offset + len(page) < len(items)}


def _field(item: dict[str, Any], key: str) -> Any:
    spec = item["desired"] if item["desired"] is not None else item["actual"] or {}
    return spec.get(key)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, list):
        return any(_text(v) == wanted for v in value) or _text(value) == wanted
    if isinstance(value, bool):
        return BOOLEANS.get(wanted.lower()) is value
    return _text(value) == wanted


@lru_cache(maxsize=64)
def _closed_values(kind: str, key: str) -> tuple[str, ...]:
    """The values a field can take, when it is an enum or a boolean (or null); () when it is open."""
    prop = BY_KIND[kind].spec.model_json_schema()["properties"].get(key, {})
    options = prop.get("anyOf", [prop])
    allowed: list[str] = []
    for option in options:
        if "enum" in option:
            allowed += [_text(v) for v in option["enum"]]
        elif option.get("type") in ("boolean", "null"):
            allowed += ["true", "false"] if option["type"] == "boolean" else ["null"]
        else:
            return ()
    return tuple(dict.fromkeys(allowed))


def filter_values(kind: str, key: str) -> list[str]:
    """Every value `?KEY=` takes for this field (a boolean: any of BOOLEANS); [] when any text is."""
    allowed = _closed_values(kind, key)
    return list(dict.fromkeys([*allowed, *(BOOLEANS if "true" in allowed else ())]))


def _check_value(kind: str, key: str, wanted: str) -> None:
    allowed = filter_values(kind, key)
    if allowed and wanted not in allowed:
        raise ApiError(400, f"{key} is one of {', '.join(allowed)}; not {wanted!r}", details=[{"parameter": key}])


def _comments(item: dict[str, Any]) -> str:
    spec = item["desired"] or item["actual"] or {}
    return " ".join(str(v) for k, v in spec.items() if k in ("comment", "description") and v)


def _boolean(key: str, value: str) -> bool:
    if value.lower() not in BOOLEANS:
        raise ApiError(400, f"{key} is true or false, not {value!r}", details=[{"parameter": key}])
    return BOOLEANS[value.lower()]


def _sorted(items: list[dict[str, Any]], sort: str, fields: set[str]) -> list[dict[str, Any]]:
    key = sort.removeprefix("-")
    if key not in ITEM_FIELDS and key not in fields:
        raise ApiError(400, f"cannot sort by {key!r}; sort by {', '.join([*ITEM_FIELDS, *sorted(fields)])} "
                       "(prefix '-' for descending)", details=[{"parameter": "sort"}])

    def order(item: dict[str, Any]) -> tuple[int, float, str, str]:
        value = item.get(key) if key in ITEM_FIELDS else _field(item, key)
        if key == "drift":
            value = len(value)
        if value is None:  # missing values last, whichever the direction
            return (2, 0.0, "", item["name"])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "", item["name"])
        return (1, 0.0, _text(value), item["name"])

    present = sorted((i for i in items if order(i)[0] < 2), key=order, reverse=sort.startswith("-"))
    return present + sorted((i for i in items if order(i)[0] == 2), key=lambda i: i["name"])


def _integer(query: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(key, default))
    except ValueError:
        raise ApiError(400, f"{key} is an integer, not {query[key]!r}", details=[{"parameter": key}]) from None
    if not low <= value <= high:
        raise ApiError(400, f"{key} is from {low} to {high}, not {value}", details=[{"parameter": key}])
    return value


def _window(query: Mapping[str, str]) -> tuple[int, int]:
    offset, limit = _integer(query, "offset", 0, 0, 1_000_000_000), _integer(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    if "page" in query or "per_page" in query:  # they win over offset/limit; the answer shows both
        per_page = _integer(query, "per_page", DEFAULT_LIMIT, 1, MAX_LIMIT)
        page = _integer(query, "page", 1, 1, 1_000_000)
        return (page - 1) * per_page, per_page
    return offset, limit
