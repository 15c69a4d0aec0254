"""Collection GETs: filters, search, sort and pages, the same for every kind.

- a top-level field of the kind's spec filters on its value (`?state=stopped`), desired when
  declared, else as found on the host; `drift=true|false` and `managed=true|false` on status;
- `q=` finds a text in names and comments (case-insensitive), `name=` a name prefix;
- `sort=FIELD` (name, kind, file, managed, drift or a spec field), `-FIELD` descending;
- `offset`/`limit` or `page`/`per_page` (these win when both are sent); the answer has `total` and `has_next`.
Any other parameter is a 400 that names it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..resources import BY_KIND
from .errors import ApiError

STATUS = ("drift", "managed")
SEARCH = ("q", "name", "sort")
PAGING = ("offset", "limit", "page", "per_page")
ITEM_FIELDS = ("name", "kind", "file", "managed", "drift")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def spec_fields(kind: str) -> list[str]:
    return list(BY_KIND[kind].spec.model_fields)


def parameters(kind: str) -> list[str]:
    """Every query parameter a list of this kind takes."""
    return [*SEARCH, *PAGING, *STATUS, *(f for f in spec_fields(kind) if f not in (*SEARCH, *PAGING, *STATUS))]


def select(kind: str, items: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    known = set(parameters(kind))
    for key in query:
        if key not in known:
            raise ApiError(400, f"unknown query parameter {key!r}; a list of {kind}s takes: {', '.join(parameters(kind))}",
                           details=[{"parameter": key}])
    fields = set(spec_fields(kind))
    for key, wanted in query.items():
        if key in STATUS:
            flag = _boolean(key, wanted)
            items = [i for i in items if bool(i[key]) == flag]
        elif key in fields:
            items = [i for i in items if _matches(_field(i, key), wanted)]
    if "q" in query:
        text = query["q"].lower()
        items = [i for i in items if text in i["name"].lower() or text in _comments(i).lower()]
    items = [i for i in items if i["name"].startswith(query.get("name", ""))]
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
