"""Value types shared by every kind: one normalisation for manifests and host facts alike,
so that a plan never shows a change that is only a spelling (`2T` vs `2199023255552`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(?:i?B)?\s*$", re.IGNORECASE)
SIZE_PATTERN = r"^(none|[0-9]+(\.[0-9]+)?\s*([KMGTPEkmgtpe](i?[Bb])?|[Bb])?)$"


def parse_size(value: Any) -> int:
    """`2T`, `2TiB`, `2tb`, `1.5G`, `2199023255552`, `none` -> bytes (binary units, as ZFS counts)."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a number with a unit (K, M, G, T, P, E), not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        if value.strip().lower() in ("none", "0"):
            return 0
        m = _SIZE_RE.match(value)
        if m:
            number, unit = float(m.group(1)), m.group(2).upper()
            result = number * 1024 ** _UNITS[unit]
            if result.is_integer():
                return int(result)
            raise ValueError(f"{value!r} is not a whole number of bytes")
    raise ValueError(f"{value!r} is not a size: use bytes (2199023255552) or a number with a unit "
                     "K, M, G, T, P or E (2T, 2TiB, 512M), or none")


def format_size(n: int) -> str:
    """Bytes -> the shortest exact binary spelling (2199023255552 -> 2T, 1536 -> 1.5K)."""
    if n == 0:
        return "none"
    for unit in "EPTGMK":
        scale = 1024 ** _UNITS[unit]
        if n >= scale:
            q = n / scale
            if q.is_integer():
                return f"{int(q)}{unit}"
            if (n * 100) % scale == 0:
                return f"{q:g}{unit}"
    return str(n)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("on", "yes", "true", "1", "enabled"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("off", "no", "false", "0", "disabled"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean: use on/off, true/false or yes/no")


_ON_OFF = {"on": True, "off": False, "yes": True, "no": False, "true": True, "false": False}


def parse_on_off(value: Any) -> bool:
    """A manifest switch: a boolean or exactly one of the words its JSON Schema lists. Stricter
    than parse_bool (which reads tools' spellings such as smb.conf's `1` or `Yes`), so that the
    API and `validate` accept the same values the published schema does."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _ON_OFF:
        return _ON_OFF[value]
    raise ValueError(f"{value!r} is not a switch: use true/false, on/off or yes/no")


def parse_interface_address(value: Any) -> str:
    """An address with its prefix (192.168.1.10/24, fd00::1/64), canonical form."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"{value!r} is not an address in CIDR form (192.168.1.10/24 or fd00::10/64)")
    try:
        return str(ipaddress.ip_interface(value.strip()))
    except ValueError as e:
        raise ValueError(f"{value!r} is not an address in CIDR form: {e}") from None


def parse_network(value: Any) -> str:
    """A network (192.168.1.0/24); host bits set is an error that says which network was meant."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a network in CIDR form (192.168.1.0/24)")
    try:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError as e:
        try:
            meant = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not a network in CIDR form (192.168.1.0/24): {e}") from None
        raise ValueError(f"{value!r} has host bits set: did you mean {meant}?") from None


def parse_ip(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def sorted_unique(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        try:
            return sorted(set(items))
        except TypeError:
            return items
    return value


Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": SIZE_PATTERN}],
                    "description": "bytes, or a number with a binary unit: 512M, 2T, 2TiB; none = 0",
                    "x-converge-size": True}),
]
OnOff = Annotated[
    bool,
    BeforeValidator(parse_on_off),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": list(_ON_OFF)}]}),
]
# a value a tool's config file takes (smb.conf, sysctl.d): kept as its text, typed as written
ConfText = Annotated[str, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]})]
Network = Annotated[str, BeforeValidator(parse_network),
                    WithJsonSchema({"type": "string", "description": "network/prefix, e.g. 192.168.1.0/24"})]
IPAddress = Annotated[str, BeforeValidator(parse_ip), WithJsonSchema({"type": "string", "description": "IP address"})]
SortedStrs = Annotated[list[str], BeforeValidator(sorted_unique), PlainSerializer(lambda v: sorted(set(v)))]


# A list field's check of its items, as `Annotated[list[str], each(check)] | None`: one line where a
# field_validator took four; a ValueError stays the field's own (its location names no item).
def each(check: Callable[[Any], Any]) -> AfterValidator:
    """Every item checked by `check`, which returns it (or its normal form), in list order."""
    return AfterValidator(lambda items: [check(item) for item in items])


def matching(pattern: re.Pattern[str], value: str | None, what: str) -> str | None:
    """The value when the pattern matches all of it (None passes); else `'VALUE' is not WHAT`."""
    if value is not None and not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


def matches(pattern: re.Pattern[str], what: str) -> AfterValidator:
    """A string field's check, as `Annotated[str, matches(PATTERN, WHAT)]`: see `matching`."""
    return AfterValidator(lambda value: matching(pattern, value, what))


def all_match(pattern: re.Pattern[str], what: str) -> AfterValidator:
    """A list field's check: every item matches the pattern whole, else `'ITEM' is not WHAT`."""
    return each(lambda item: matching(pattern, item, what))


def sorted_set_of(normalize: Callable[[Any], Any]) -> AfterValidator:
    """Every item in its normal form, the list sorted and without repeats (two spellings of one
    item are one item), so that a manifest's order never shows as a change."""
    return AfterValidator(lambda items: sorted({normalize(item) for item in items}))


# A name may never carry what could reach a shell or a config file: `;`, newlines, `..`, a leading `-`.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f;`$&|<>\\\"'\[\]{}*?!]")


def short_name(name: str) -> str:
    """A name as errors quote it: whole when short, else its start and its length."""
    return repr(name) if len(name) <= 80 else repr(name[:60]) + f"... ({len(name)} characters)"


def _char(c: str) -> str:
    return {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}.get(c, repr(c))


# No kind's names are longer: ZFS allows 255 characters for a full dataset or snapshot name
# (zfs(8): ZFS_MAX_DATASET_NAME_LEN - 1), a path component is at most 255 bytes (NAME_MAX).
MAX_NAME = 255


def check_name(name: str, pattern: re.Pattern[str], allowed: str, max_length: int = MAX_NAME) -> str:
    """Shared name check: the kind's pattern and length, plus the rules no name may break."""
    if not isinstance(name, str) or not name:
        raise ValueError("a name must be a non-empty string")
    if len(name) > max_length:  # checked first: a long name is not repeated whole in the message
        raise ValueError(f"name {short_name(name)} is {len(name)} characters long; allowed: up to {max_length}")
    if name.startswith("-"):
        raise ValueError(f"name {name!r} starts with '-' (it would read as a command option)")
    if ".." in name.split("/") or ".." in name:
        raise ValueError(f"name {name!r} contains '..'")
    bad = _FORBIDDEN.search(name)
    if bad:
        raise ValueError(f"name {name!r} contains {_char(bad.group())}, which could reach a shell or a config file; "
                         f"allowed: {allowed}")
    if not pattern.fullmatch(name):
        if " " in name:
            raise ValueError(f"name {name!r} contains a space, which these names may not have; allowed: {allowed}")
        raise ValueError(f"name {name!r} is not allowed here; allowed: {allowed}")
    return name


def parse_stamp(value: Any) -> str:
    """A request stamp: an RFC 3339 time, kept in UTC (`2026-11-22T10:00:00Z`)."""
    from datetime import datetime

    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a time stamp: use RFC 3339, e.g. 2026-11-22T10:00:00Z") from None
    else:
        raise ValueError(f"{value!r} is not a time stamp: use RFC 3339, e.g. 2026-11-22T10:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Stamp = Annotated[str, BeforeValidator(parse_stamp),
                  WithJsonSchema({"type": "string", "format": "date-time",
                                  "description": "request stamp: honoured once, e.g. 2026-11-22T10:00:00Z"})]
