"""Kind `nfs`: an NFS export in converge's own exports file."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..model import Ref
from ..types import Network, OnOff, SortedStrs
from .base import Kind, Spec
from .shares_common import check_share_path, path_dependency

HOST_RE = re.compile(r"(\*|[A-Za-z0-9*?][A-Za-z0-9*?.-]*|@[A-Za-z0-9_.-]+)")
OPTION_RE = re.compile(r"[a-z_]+(=[A-Za-z0-9_:.,/-]+)?")


class NfsClient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: Network | None = None
    host: str | None = None
    options: SortedStrs = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None and not HOST_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a host name, wildcard or @netgroup")
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        for opt in v:
            if not OPTION_RE.fullmatch(opt):
                raise ValueError(f"option {opt!r} is not an exports option (rw, sync, anonuid=1000, ...)")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> "NfsClient":
        if (self.network is None) == (self.host is None):
            raise ValueError("a client has exactly one of network (192.168.1.0/24) or host (nas.lan, *)")
        return self


class NfsExportSpec(Spec):
    path: str
    clients: list[NfsClient] = Field(min_length=1)
    enabled: OnOff | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return check_share_path(v)


class NfsKind(Kind[NfsExportSpec]):
    kind = "nfs"
    section = ("shares", "nfs")
    spec = NfsExportSpec
    name_pattern = re.compile(r"[A-Za-z0-9_.-]{1,64}")
    name_allowed = "up to 64 letters, digits, '_', '.', '-'"
    tools = ("exportfs",)

    def depends(self, name: str, spec: NfsExportSpec) -> list[Ref]:
        return path_dependency(spec.path)
