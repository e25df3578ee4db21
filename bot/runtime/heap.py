"""The cyclic garbage collector, paused over work that allocates many objects and frees them all."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """For work that allocates tens of thousands of small objects, none of them in cycles (reading a long timeline,
    storing an Alertmanager delivery): collector passes during it would rescan them again and again (measured: 40 %
    of reading 5,000 events)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
