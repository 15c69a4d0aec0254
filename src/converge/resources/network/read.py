"""Read every link, address and route of a host in three commands and turn them into
interface specs in their normal form (the parser of `ip -j` output is formats/iproute.py).

    ip -j -d link show          links, kinds (linkinfo.info_kind/info_data), masters
    ip -j addr show             addresses (addr_info)
    ip -j route show table all  IPv4 and IPv6 routes of every table (we keep table main)
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ...errors import HostError
from ...hosts.base import Host
from ...logs import get_logger

log = get_logger(__name__)

READ_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("ip", "-j", "-d", "link", "show"),
    ("ip", "-j", "addr", "show"),
    ("ip", "-j", "route", "show", "table", "all"),
)


def run_reads(host: Host) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    out = []
    for argv in READ_COMMANDS:
        text = host.run(list(argv)).stdout
        try:
            out.append(json.loads(text or "[]"))
        except ValueError as e:
            raise HostError(f"{' '.join(argv)}: output is not JSON: {e}") from None
    return out[0], out[1], out[2]


def normal_form(spec_cls: Any, raw: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """The Spec's normal form of what was read; a link the model cannot describe (a macvlan whose
    parent is in another namespace) falls back to its common fields, with the reason."""
    try:
        return spec_cls.model_validate(raw).model_dump(mode="json", exclude_none=True), ""
    except ValidationError as e:
        common = {k: raw[k] for k in ("mtu", "mac", "state", "addresses", "routes", "gateway") if k in raw}
        log.warning("interface.read.unmodelled", name=name, error=str(e).splitlines()[0])
        return spec_cls.model_validate({"type": "physical", **common}).model_dump(mode="json", exclude_none=True), \
            f"read as physical: {e.errors()[0]['msg']}"

