"""Waiting for the next tick: sleep until shortly before the release time, then spin.

`time.sleep` alone wakes ~75 us late at p50 on this class of machine; sleeping until `spin_s` before
the release time and busy-waiting the rest lands within about a microsecond. A `rehearse` callable runs
`rehearse_s` before the release (the sleep ends that much earlier; skipped when it woke later than
that): the loop rehearses the coming tick there, so that its code and data are in the caches when the
tick starts.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator


def wait_until(release_time_s: float, spin_s: float, rehearse: Callable[[], None] | None = None,
               rehearse_s: float = 0.0) -> None:
    """Return at `release_time_s` (time.perf_counter clock), sleeping then spinning for the last `spin_s`;
    with `rehearse`, waking `rehearse_s` earlier and calling it `rehearse_s` before the release (when the
    sleep left that much time)."""
    wake_s = spin_s if rehearse is None else spin_s + rehearse_s
    remaining = release_time_s - time.perf_counter()
    if remaining > wake_s:
        time.sleep(remaining - wake_s)
    if rehearse is not None and release_time_s - time.perf_counter() > rehearse_s:
        while time.perf_counter() < release_time_s - rehearse_s:
            pass
        rehearse()
    while time.perf_counter() < release_time_s:
        pass


@contextlib.contextmanager
def garbage_collection_paused(paused: bool = True) -> Iterator[None]:
    """Keep Python's cyclic garbage collector out of a paced loop (a full collection can take
    milliseconds): collect once, freeze the survivors, disable the collector, and undo it all after.
    The loop's per-tick objects hold no reference cycles, so reference counting alone frees them."""
    if not paused or not gc.isenabled():
        yield
        return
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
