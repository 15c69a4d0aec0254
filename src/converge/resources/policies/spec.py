"""The model of `snapshot_policies:` entries."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ...formats import calendar
from ...types import matching
from ..base import Spec
from .retention import GRADES, Rules, parse_duration

DATASET_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*")
PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def check_schedule(value: str) -> str:
    try:
        calendar.parse(value)
    except calendar.CalendarError as e:
        raise ValueError(f"schedule {value!r}: {e}. Allowed: hourly, daily, weekly, monthly, ..., or "
                         "[WEEKDAY] [YEAR-MONTH-DAY] [HH:MM[:SS]] as in systemd.time(7)") from None
    return " ".join(value.split())


def _check_prefix(value: str) -> str:
    if not PREFIX_RE.fullmatch(value):
        raise ValueError(f"prefix {value!r}: letters, digits, '_', '.', ':', '-' (up to 64)")
    return value


def _check_pool_dataset(value: str) -> str:
    if not DATASET_RE.fullmatch(value) or "/" not in value:
        raise ValueError(f"{value!r} is not pool/dataset")
    return value


# The field types policies and replications share, each checked in one place
Schedule = Annotated[str, AfterValidator(check_schedule)]
Prefix = Annotated[str, AfterValidator(_check_prefix)]
PoolDataset = Annotated[str, AfterValidator(_check_pool_dataset)]


class GradedKeep(BaseModel):
    """How many periods of each grade keep their first snapshot (like sanoid/btrbk)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    minutely: int | None = Field(None, ge=0)
    hourly: int | None = Field(None, ge=0)
    daily: int | None = Field(None, ge=0)
    weekly: int | None = Field(None, ge=0)
    monthly: int | None = Field(None, ge=0)
    yearly: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some(self) -> "GradedKeep":
        if not any(v for v in self.model_dump().values()):
            raise ValueError(f"graded keep needs a count for at least one of {', '.join(GRADES)}")
        return self


class SnapshotPolicySpec(Spec):
    datasets: list[str] = Field(min_length=1, description="pools or datasets to snapshot (zfs or btrfs)")
    recursive: bool = Field(False, description="also every dataset below each one listed")
    schedule: Schedule = Field(description="systemd calendar event: hourly, daily, '*-*-* 02:00', 'Mon..Fri 08:00'")
    keep: int | GradedKeep | None = Field(None, description="the N newest, or {hourly: 24, daily: 7, ...}")
    keep_within: str | None = Field(None, description="keep every snapshot newer than this (48h, 7d)")
    prefix: Prefix | None = Field(None, description="snapshot name prefix (default auto-NAME)")

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v: list[str]) -> list[str]:
        for d in v:
            matching(DATASET_RE, d, "a pool or pool/dataset name")
        if len(set(v)) != len(v):
            raise ValueError("a dataset is listed twice")
        return v

    @field_validator("keep")
    @classmethod
    def _keep(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 1:
            raise ValueError("keep is at least 1 (to keep nothing, remove the policy)")
        return v

    @field_validator("keep_within")
    @classmethod
    def _within(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @model_validator(mode="after")
    def _some_retention(self) -> "SnapshotPolicySpec":
        if self.keep is None and self.keep_within is None:
            raise ValueError("a policy needs keep (a count or {hourly: N, daily: N, ...}) and/or keep_within (48h)")
        return self

    def rules(self) -> Rules:
        graded = {k: v for k, v in self.keep.model_dump().items() if v} if isinstance(self.keep, GradedKeep) else {}
        return Rules(newest=self.keep if isinstance(self.keep, int) else 0,
                     within=parse_duration(self.keep_within) if self.keep_within else None, graded=graded)

    def prefix_for(self, name: str) -> str:
        return self.prefix or f"auto-{name}"
