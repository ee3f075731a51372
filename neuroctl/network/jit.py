"""numba's `njit(cache=True)` with a cache directory that is writable and private to the user.

numba caches compiled kernels next to the source file or in a directory named by NUMBA_CACHE_DIR, and it
*unpickles* the index files it finds there: whoever can write into the cache directory (or replace it,
or any directory above it) runs code in every process that loads a kernel. Use `cached_njit` instead
of `numba.njit(cache=True)`: it caches only in a directory that passed `private_directory`, i.e.

- every directory above it (after resolving symbolic links) is owned by the user or root and is not
  writable by group or others unless it has the sticky bit (like /tmp), so nobody else can rename or
  replace anything on the path;
- the directory itself is a real directory (not a symbolic link), owned by the current user and not
  writable by group or others; directories this module creates are made with mode 0700 and checked
  again with lstat after creation (someone may have won a race to create them first).

The directory is the first of these that passes (NUMBA_CACHE_DIR is then set to it, so that numba and
child processes use it and nothing else):

1. NUMBA_CACHE_DIR, when set (symbolic links in it are resolved; the resolved path must pass). One that
   exists but fails the ownership/mode checks is refused with a RuntimeWarning;
2. the package's own `__pycache__` (neuroctl/network/__pycache__), only when NUMBA_CACHE_DIR is not set;
3. `$XDG_CACHE_HOME/neuroctl-numba` (default ~/.cache/neuroctl-numba);
4. `<tempdir>/neuroctl-numba-<uid>`, reused by later processes; when it exists but is not ours, has a
   bad mode or is a symbolic link, it is left alone (with a RuntimeWarning) and
5. a fresh `tempfile.mkdtemp()` (mode 0700) is used instead.
6. When even the temporary directory is unsafe (writable by others without the sticky bit), kernels
   are compiled in every process and never cached: NUMBA_CACHE_DIR is then None here.

`cached_njit` also checks, per kernel, that numba settled on the chosen directory (numba silently falls
back to the in-tree `__pycache__` or its own user-wide directory when a subdirectory cannot be created);
otherwise that kernel is not cached.

On platforms without POSIX ownership (Windows) the directories are only checked for writability.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path

_POSIX = hasattr(os, "getuid")
_CANNOT_STAT, _NOT_A_DIRECTORY = "cannot be inspected", "is not a directory"
_UNUSABLE = (_CANNOT_STAT, _NOT_A_DIRECTORY)  # reasons to try the next directory, not security problems


def _refusal(path: str, *, leaf: bool) -> str | None:
    """Why `path` must not be (leaf) or be above (not leaf) the cache directory; None when it may."""
    try:
        info = os.lstat(path)
    except OSError:
        return _CANNOT_STAT
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return _NOT_A_DIRECTORY
    uid = os.getuid()
    if leaf:
        if info.st_uid != uid:
            return f"is owned by uid {info.st_uid}, not by the current user (uid {uid})"
        if info.st_mode & 0o022:
            return f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    else:
        if info.st_uid not in (uid, 0):
            return f"is owned by uid {info.st_uid}, neither the current user (uid {uid}) nor root"
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return f"is writable by group or others without the sticky bit (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


class UnsafeDirectory(Exception):
    """A cache directory (or a directory above it) that someone else controls: `str()` says why."""


class _Unusable(Exception):
    """A cache directory that cannot be created or written (not a security problem: try the next one)."""


def _check_parents(directory: str) -> None:
    """Create the missing directories of the real (resolved) path `directory` (mode 0700) and check all
    of them from the root down; raises UnsafeDirectory or _Unusable."""
    parts = Path(directory).parts
    for depth in range(1, len(parts) + 1):
        current = os.path.join(*parts[:depth])
        if not os.path.lexists(current):
            try:
                os.mkdir(current, 0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise _Unusable(current) from exc
        reason = _refusal(current, leaf=False)
        if reason in _UNUSABLE:
            raise _Unusable(current)
        if reason:
            raise UnsafeDirectory(f"{current} {reason}")


def private_directory(path: str | os.PathLike, *, follow_symlinks: bool = False) -> Path | None:
    """`path` as a private, writable cache directory (created with mode 0700 if missing), or None when it
    cannot be created or written. Raises UnsafeDirectory when it is (or a directory above it is)
    controlled by someone else: another owner, writable by group or others, a symbolic link (unless
    `follow_symlinks`: then the resolved path is checked and returned)."""
    path = os.path.abspath(os.fspath(path))
    if follow_symlinks:
        path = os.path.realpath(path)
    parent, name = os.path.split(path)
    if not name:
        return None
    try:
        if _POSIX:
            parent = os.path.realpath(parent)
            _check_parents(parent)
            path = os.path.join(parent, name)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _Unusable(path) from exc
        if _POSIX:
            reason = _refusal(path, leaf=True)
            if reason in _UNUSABLE:
                raise _Unusable(path)
            if reason:
                raise UnsafeDirectory(f"{path} {reason}")
        try:
            tempfile.TemporaryFile(dir=path).close()
        except OSError as exc:
            raise _Unusable(path) from exc
    except _Unusable:
        return None
    return Path(path)


def _candidate(path: str | os.PathLike, refused: list[str], *, follow_symlinks: bool = False) -> Path | None:
    try:
        return private_directory(path, follow_symlinks=follow_symlinks)
    except UnsafeDirectory as exc:
        refused.append(str(exc))
        return None


def _fresh_temporary_directory(refused: list[str]) -> Path | None:
    try:
        created = tempfile.mkdtemp(prefix="neuroctl-numba-")  # mode 0700, a name nobody could predict
    except OSError:
        return None
    chosen = _candidate(created, refused)
    if chosen is None:
        try:
            os.rmdir(created)
        except OSError:
            pass
    return chosen


def _user_cache() -> Path | None:
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neuroctl-numba"
    except RuntimeError:  # no home directory
        return None


def ensure_numba_cache_dir() -> Path | None:
    """Choose the directory numba caches kernels in (module docstring), set NUMBA_CACHE_DIR to it and
    return it; None (and NUMBA_CACHE_DIR removed) when no private directory exists: no caching."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    refused: list[str] = []
    chosen = _candidate(configured, refused, follow_symlinks=True) if configured else None
    if chosen is None and not configured:
        chosen = _candidate(Path(__file__).resolve().parent / "__pycache__", [])
    if chosen is None:
        user_cache = _user_cache()
        chosen = _candidate(user_cache, refused) if user_cache else None
    if chosen is None:
        uid = os.getuid() if _POSIX else 0
        chosen = _candidate(Path(tempfile.gettempdir()) / f"neuroctl-numba-{uid}", refused) \
            or _fresh_temporary_directory(refused)
    if refused:
        warnings.warn(f"numba cache directory not used (anyone who can write there can run code in this "
                      f"process): {'; '.join(refused)}; using {chosen or 'no cache'}", RuntimeWarning,
                      stacklevel=2)
    if chosen is None:
        os.environ.pop("NUMBA_CACHE_DIR", None)
    else:
        os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    if "numba" in sys.modules:
        sys.modules["numba"].config.reload_config()
    return chosen


NUMBA_CACHE_DIR = ensure_numba_cache_dir()

import llvmlite.ir  # noqa: E402
import numba  # noqa: E402  (imported after the cache directory is settled)
import numba.core.caching  # noqa: E402
import numba.core.cgutils  # noqa: E402
import numba.extending  # noqa: E402


def _within_cache_dir(path: str | None) -> bool:
    if NUMBA_CACHE_DIR is None or not path:
        return False
    root = str(NUMBA_CACHE_DIR)
    try:
        return os.path.commonpath([os.path.realpath(path), root]) == root
    except ValueError:  # different drives
        return False


def cached_njit(function=None, *, inline: bool = False, reassociate: bool = False, release_gil: bool = True):
    """Decorator for hot-path kernels: compiled once, cached on disk in NUMBA_CACHE_DIR (and nowhere
    else), no GIL, no Python objects. `@cached_njit(inline=True)`: also inlined into the jitted functions
    that call it (numba's inline="always": the call of `neuroctl.network.gradient`'s 17-argument step
    cost ~0.1 us of a 3.3 us cart-pole MPC tick). numba's cache does not notice a change in a function
    that a cached kernel calls from another file: touch the caller's file (or clear the cache) after
    editing a callee, or the caller keeps the old code. `reassociate=True`: LLVM may reorder sums and fuse
    multiply-adds (fastmath "reassoc" and "contract", not the NaN/infinity assumptions), so that a
    reduction runs on SIMD lanes instead of one add after another; results change in the last bits.
    `release_gil=False`: the kernel keeps the GIL (one that calls into a library whose other callers rely
    on it, as PyBullet's Python functions do)."""
    if function is None:
        return lambda f: cached_njit(f, inline=inline, reassociate=reassociate, release_gil=release_gil)
    options = dict(nogil=release_gil, inline="always" if inline else "never")
    if reassociate:
        options["fastmath"] = {"reassoc", "contract"}
    if NUMBA_CACHE_DIR is None:
        return numba.njit(cache=False, **options)(function)
    try:
        dispatcher = numba.njit(cache=True, **options)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(cache=False, **options)(function)
    if not _within_cache_dir(getattr(getattr(dispatcher, "_cache", None), "cache_path", None)):
        dispatcher._cache = numba.core.caching.NullCache()
    return dispatcher


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


def entry_point(dispatcher, *arguments):
    """`dispatcher`'s compiled function for the numba types of `arguments` (compiled now, or loaded from
    the cache), called without typing its arguments again (a dispatcher types each structref argument in
    Python, about 1 us): each later call must pass arguments of exactly these types (structrefs of the
    same type, arrays of the same dtype, dimensions and layout, Python ints for int64, floats for float64)."""
    return dispatcher.compile(tuple(numba.typeof(argument) for argument in arguments))
