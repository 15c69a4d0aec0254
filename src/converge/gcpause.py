"""Fewer passes of Python's cyclic garbage collector while converge reads and plans in bulk.

A plan of 10 000 resources allocates millions of objects that live until the plan is done and
form no garbage cycles; with the default threshold (a collection every 700 net allocations,
and full ones as the heap grows) the collector's walks over that growing heap took a third of
a no-op plan's time (measured with bench/plan_scale.py). Reference counting still frees
everything as usual; only the search for cycles runs less often."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 100_000
_lock = threading.Lock()
_inside = 0  # threads in a bulk phase (the API server plans in several at once)
_saved: tuple[int, ...] = ()


@contextmanager
def bulk() -> Iterator[None]:
    """The first thread in raises the threshold, the last one out puts the saved one back (two
    overlapping phases restoring in turn would leave it raised for good)."""
    global _inside, _saved
    with _lock:
        if _inside == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(_saved[0], BULK_THRESHOLD), *_saved[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_saved)
