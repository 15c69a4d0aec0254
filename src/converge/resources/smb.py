"""Kind `smb`: a Samba share in converge's own include file of smb.conf."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from ..model import Ref
from ..types import OnOff, Size, SortedStrs
from .base import Kind, Spec
from .shares_common import check_share_path, path_dependency

RESERVED = frozenset({"global", "homes", "printers", "print$", "ipc$"})
MASK = r"^0?[0-7]{3}$"
USER = re.compile(r"[@+&]?[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}")


class SmbShareSpec(Spec):
    path: str = Field(description="a dataset (pool/path, resolved to its mountpoint) or an absolute path")
    comment: str | None = Field(None, pattern=r"^[^\n\r\[\]]*$")
    enabled: OnOff | None = None
    read_only: OnOff | None = None
    browseable: OnOff | None = None
    guest_ok: OnOff | None = None
    valid_users: SortedStrs | None = None
    write_list: SortedStrs | None = None
    create_mask: str | None = Field(None, pattern=MASK)
    directory_mask: str | None = Field(None, pattern=MASK)
    force_user: str | None = Field(None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}$")
    force_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}$")
    veto_files: SortedStrs | None = None
    time_machine: OnOff | None = None
    time_machine_max_size: Size | None = None
    options: dict[str, str] = Field(default_factory=dict, description="any other smb.conf parameter")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_share_path(v)

    @field_validator("valid_users", "write_list")
    @classmethod
    def _users(cls, v: list[str] | None) -> list[str] | None:
        for u in v or []:
            if not USER.fullmatch(u):
                raise ValueError(f"{u!r} is not a user or @group name")
        return v

    @field_validator("veto_files")
    @classmethod
    def _veto(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            if "/" in pattern or "\n" in pattern or not pattern:
                raise ValueError(f"veto pattern {pattern!r} may not be empty or contain '/' or a newline")
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in v.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            for part, what in ((key, "name"), (text, "value")):
                if "\n" in part or "\r" in part or "[" in part or "]" in part:
                    raise ValueError(f"option {key!r}: its {what} may not contain a newline or '[' ']'")
            if key.strip().lower() in ("include", "config file", "copy") or "include" in key.lower():
                raise ValueError(f"option {key!r} is not allowed: it would pull other files into smb.conf")
            out[" ".join(key.lower().replace("_", " ").split())] = text
        return out


class SmbKind(Kind[SmbShareSpec]):
    kind = "smb"
    section = ("shares", "smb")
    spec = SmbShareSpec
    name_pattern = re.compile(r"[A-Za-z0-9_.$-][A-Za-z0-9_.$ -]{0,79}")
    name_allowed = "up to 80 letters, digits, '_', '.', '$', '-', spaces"
    tools = ("testparm",)

    def check_name(self, name: str) -> str:
        name = super().check_name(name)
        if name.lower() in RESERVED:
            raise ValueError(f"share name {name!r} is reserved by Samba ({', '.join(sorted(RESERVED))})")
        return name

    def depends(self, name: str, spec: SmbShareSpec) -> list[Ref]:
        return path_dependency(spec.path)
