"""Fewer passes of Python's cyclic garbage collector while converge reads and plans in bulk.

A plan of 10 000 resources allocates millions of objects that live until the plan is done and
form no garbage cycles; with the default threshold (a collection every 700 net allocations,
and full ones as the heap grows) the collector's walks over that growing heap took a third of
a no-op plan's time (measured with bench/plan_scale.py). Reference counting still frees
everything as usual; only the search for cycles runs less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 100_000


@contextmanager
def bulk() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], BULK_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
