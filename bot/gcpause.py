"""Pausing the cyclic garbage collector while a large answer is turned into objects.

Parsing 50,000 users allocates hundreds of thousands of objects, none of them in a reference
cycle; each allocation burst would otherwise trigger collections that walk the whole heap
again and again (about a third of the parse time). Reference counting still frees everything
as usual; the collector runs again as soon as the last pause ends. Pauses may overlap (worker
threads parse concurrently): the collector is re-enabled only by the last one to end, and
only if it was enabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
