"""numba's `njit(cache=True)` with a cache directory that is guaranteed writable.

numba caches compiled kernels next to the source file or, failing that, in the user's cache
directory, and raises at decoration time when neither is writable (a read-only install, a locked-down
home). Use `cached_njit` instead of `numba.njit(cache=True)`: when the package directory is not
writable it points NUMBA_CACHE_DIR at the user's cache or, failing that, one directory per user under
the system's temporary directory (reused by later processes), or a fresh temporary directory.
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
    shared_tmp = Path(tempfile.gettempdir()) / f"neuroctl-numba-{os.getuid() if hasattr(os, 'getuid') else 0}"
    chosen = next((d for d in (user_cache, shared_tmp) if _writable(d)), None) \
        or Path(tempfile.mkdtemp(prefix="neuroctl-numba-"))
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    if "numba" in sys.modules:
        sys.modules["numba"].config.reload_config()
    return chosen


NUMBA_CACHE_DIR = ensure_numba_cache_dir()

import llvmlite.ir  # noqa: E402
import numba  # noqa: E402  (imported after the cache directory is settled)
import numba.core.cgutils  # noqa: E402
import numba.extending  # noqa: E402

cached_njit = numba.njit(cache=True, nogil=True)
"""Decorator for hot-path kernels: compiled once, cached on disk, no GIL, no Python objects."""

_BYTE_POINTER = llvmlite.ir.IntType(8).as_pointer()
_PREFETCH_TYPE = llvmlite.ir.FunctionType(llvmlite.ir.VoidType(), [_BYTE_POINTER] + [llvmlite.ir.IntType(32)] * 3)


@numba.extending.intrinsic
def prefetch(typingctx, array, index):
    """`prefetch(array, index)` in jitted code: ask the CPU to start loading the cache line of
    array[index] (1-D C-contiguous array) for reading. A hint only: no effect on results, never faults
    (not even past the end of the array)."""
    if not (isinstance(array, numba.types.Array) and array.ndim == 1 and array.layout == "C"
            and isinstance(index, numba.types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), _BYTE_POINTER)
        function = numba.core.cgutils.get_or_insert_function(builder.module, _PREFETCH_TYPE, "llvm.prefetch")
        read, keep_in_all_caches, data_cache = (llvmlite.ir.Constant(llvmlite.ir.IntType(32), v) for v in (0, 3, 1))
        builder.call(function, [address, read, keep_in_all_caches, data_cache])
        return context.get_dummy_value()

    return numba.types.void(array, index), codegen
