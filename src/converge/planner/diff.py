"""The generic diff: only fields the manifest declares are compared, both sides already in
the normal form the kind's Spec gives them. Kinds never diff themselves."""

from __future__ import annotations

import functools
import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.functional_validators import BeforeValidator

from ..model import FieldDiff
from ..redaction import MASK
from ..resources.base import Spec
from ..types import format_size, parse_on_off, parse_size

SENSITIVE = "x-converge-sensitive"


def diff_fields(spec_cls: type[Spec], declared: dict[str, Any], actual: dict[str, Any],
                create_only: frozenset[str] = frozenset()) -> list[FieldDiff]:
    diffs: list[FieldDiff] = []
    _walk(spec_cls, declared, actual or {}, "", diffs)
    for d in diffs:
        d.forces_replace = any(d.path == c or d.path.startswith(c + ".") for c in create_only)
    return diffs


def _walk(model: Any, want: dict[str, Any], have: dict[str, Any], prefix: str, out: list[FieldDiff]) -> None:
    for key in sorted(want):
        path = f"{prefix}{key}"
        w, h = want[key], have.get(key) if isinstance(have, dict) else None
        field_type, sensitive = field_of(model, key)
        if isinstance(w, dict) and (isinstance(h, dict) or h is None) and not _is_plain_dict(field_type):
            _walk(submodel(field_type), w, h or {}, path + ".", out)
        elif isinstance(w, dict) and isinstance(h, dict):  # free-form mapping (properties, env, labels)
            _walk(None, w, h, path + ".", out) if not sensitive else _compare(path, w, h, field_type, True, out)
        else:
            _compare(path, w, h, field_type, sensitive, out)


def _compare(path: str, want: Any, have: Any, field_type: Any, sensitive: bool, out: list[FieldDiff]) -> None:
    if _same(want, have):
        return
    hidden = MASK
    out.append(FieldDiff(path=path, before=hidden if sensitive and have is not None else have,
                         after=hidden if sensitive and want is not None else want,
                         before_text=show(have, field_type, sensitive), after_text=show(want, field_type, sensitive),
                         sensitive=sensitive))


_SCALARS = (str, int, float, bool, type(None))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _same(want: Any, have: Any) -> bool:
    """Equal in JSON form. Equal scalars of one type are (most fields, without encoding them);
    anything else goes through JSON, where 1, 1.0 and true differ though Python calls them equal."""
    if type(want) is type(have) and type(want) in _SCALARS and want == have:
        return True
    if (want is None) != (have is None):  # one side unset (every field of a create): differs
        return False
    return _canonical(want) == _canonical(have)


@functools.cache
def field_of(model: Any, key: str) -> tuple[Any, bool]:
    if isinstance(model, type) and issubclass(model, BaseModel) and key in model.model_fields:
        info = model.model_fields[key]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        return _with_metadata(info.annotation, info.metadata), bool(extra.get(SENSITIVE))
    return None, False


def _with_metadata(annotation: Any, metadata: list[Any]) -> Any:
    return typing.Annotated[annotation, *metadata] if metadata else annotation


def _unwrap(tp: Any) -> list[Any]:
    """Annotated / Optional / Union layers peeled: the candidate concrete types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [t for a in typing.get_args(tp) for t in _unwrap(a)]
    return [tp]


_SUBMODEL: dict[Any, Any] = {}


def submodel(tp: Any) -> Any:
    """The pydantic model inside a field's type, or None. Kept per type: a diff asks for it at
    every nested field of every resource (two calls per dataset of a plan)."""
    try:
        return _SUBMODEL[tp]
    except KeyError:
        found = _SUBMODEL[tp] = _submodel(tp)
        return found
    except TypeError:  # an unhashable type annotation
        return _submodel(tp)


def _submodel(tp: Any) -> Any:
    return next((t for t in _unwrap(tp) if isinstance(t, type) and issubclass(t, BaseModel)), None)


def _is_plain_dict(tp: Any) -> bool:
    return submodel(tp) is None


_VALIDATED_BY: dict[tuple[Any, Any], bool] = {}


def validated_by(tp: Any, func: Any) -> bool:
    """Is this (possibly Optional/Annotated) type parsed by `func` (parse_size, parse_on_off)?
    Kept per type: a plan asks for every value it shows."""
    try:
        return _VALIDATED_BY[(tp, func)]
    except KeyError:
        found = _VALIDATED_BY[(tp, func)] = _validated_by(tp, func)
        return found
    except TypeError:  # an unhashable type annotation
        return _validated_by(tp, func)


def _validated_by(tp: Any, func: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        return any(isinstance(m, BeforeValidator) and m.func is func for m in typing.get_args(tp)[1:]) \
            or _validated_by(typing.get_args(tp)[0], func)
    return any(_validated_by(a, func) for a in typing.get_args(tp)) if typing.get_origin(tp) else False


def show(value: Any, field_type: Any = None, sensitive: bool = False) -> str:
    """A value as a person writes it: 2T rather than 2199023255552."""
    if value is None:
        return "(unset)"
    if sensitive:
        return MASK
    if isinstance(value, bool) and validated_by(field_type, parse_on_off):
        return "on" if value else "off"
    if isinstance(value, int) and not isinstance(value, bool) and validated_by(field_type, parse_size):
        return format_size(value)
    if isinstance(value, str):
        return value if value and value.strip() == value and "\n" not in value else json.dumps(value)
    return json.dumps(value, sort_keys=True)
