"""numba's `njit(cache=True)` with a cache directory that is guaranteed writable.

numba caches compiled kernels next to the source file or, failing that, in the user's cache
directory, and raises at decoration time when neither is writable (a read-only install, a locked-down
home). Use `cached_njit` instead of `numba.njit(cache=True)`: when the package directory is not
writable it points NUMBA_CACHE_DIR at the user's cache or, failing that, a temporary directory.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def ensure_numba_cache_dir() -> Path:
    """Return the directory numba will cache kernels in, setting NUMBA_CACHE_DIR when needed."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured and _writable(Path(configured)):
        return Path(configured)
    package_cache = Path(__file__).resolve().parent / "__pycache__"
    if not configured and _writable(package_cache):
        return package_cache
    user_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuroctl-numba"
    chosen = user_cache if _writable(user_cache) else Path(tempfile.mkdtemp(prefix="neuroctl-numba-"))
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    if "numba" in sys.modules:
        sys.modules["numba"].config.reload_config()
    return chosen


NUMBA_CACHE_DIR = ensure_numba_cache_dir()

import numba  # noqa: E402  (imported after the cache directory is settled)

cached_njit = numba.njit(cache=True, nogil=True)
"""Decorator for hot-path kernels: compiled once, cached on disk, no GIL, no Python objects."""
