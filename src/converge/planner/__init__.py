"""From desired and actual to an ordered Plan: diff (generic), changes, ordering, rendering."""

from .build import build_plan

__all__ = ["build_plan"]
