"""Result files: output paths checked before a run, files written atomically, a fallback after it.

A file is written to a temporary file in the same directory, then renamed into place: a crash or an
interrupt leaves either the old file or the complete new one, never half a file, and no temporary file
behind (unless the process is killed outright). JSON is strict: a non-finite number (an infinite cost,
say) is written as `null`. `check_output_dir` and `check_output_file` find, before a run, the output
paths that could never be written; `write_with_fallback` keeps a finished run's results in a private
temporary directory when its output directory fails after all (full disk, replaced mid-run).
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

NAME_MAX_BYTES = 255


class OutputError(Exception):
    """An output path that cannot be written: `<path>: <problem>`."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"cannot write to {self.path!r}: {problem}")


class ResultsLost(Exception):
    """Neither the output directory nor the fallback took the results."""


def _file_mode() -> int:
    """The mode `open()` gives a new file under this process's umask (mkstemp's files are 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (creating the directory if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def json_safe(document: Any) -> Any:
    """`document` with every non-finite float (NaN, +-inf, numpy's too) replaced by None (JSON null)
    and numpy scalars as Python numbers."""
    if isinstance(document, dict):
        return {key: json_safe(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [json_safe(value) for value in document]
    if isinstance(document, (float, np.floating)):
        return float(document) if math.isfinite(document) else None
    if isinstance(document, np.integer):
        return int(document)
    return document


def atomic_write_json(path: str | Path, document: Any) -> None:
    """Write `document` as indented, strict JSON; non-finite numbers become null (`json_safe`)."""
    atomic_write_bytes(path, (json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n").encode())


def _os_problem(exc: OSError) -> str:
    return {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
            errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
            errno.ELOOP: "a symbolic link loop", errno.ENAMETOOLONG: "file name too long",
            errno.ENOTDIR: "a component of the path is not a directory",
            errno.EEXIST: "it exists and is not a directory"}.get(exc.errno, exc.strerror or str(exc))


def check_output_dir(path: str | Path) -> Path:
    """Check, before a run, that directory `path` could be made and written (nothing is created):
    no NUL byte, no name over 255 bytes, no dangling symlink or symlink loop on the way, the nearest
    existing ancestor a directory in which a directory can really be made (a probe, made and removed).
    Raises OutputError."""
    path = Path(path)
    text = str(path)
    if "\x00" in text:
        raise OutputError(text.replace("\x00", "\\x00"), "the path contains a NUL byte")
    if any(len(os.fsencode(part)) > NAME_MAX_BYTES for part in path.parts):
        raise OutputError(path, f"a component of the path is longer than {NAME_MAX_BYTES} bytes")
    existing = path
    try:
        while not existing.exists():
            if os.path.lexists(existing):
                raise OutputError(path, f"{str(existing)!r} is a symbolic link to nothing (dangling or a loop)")
            if existing == existing.parent:
                break
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(path, "it exists and is not a directory" if existing == path
                              else f"{str(existing)!r} is not a directory")
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".neuroctl-probe-"))
    except OSError as exc:
        raise OutputError(path, _os_problem(exc)) from None
    return path


def check_output_file(path: str | Path) -> Path:
    """`check_output_dir` of the file's directory, and the file itself not a directory."""
    path = Path(path)
    check_output_dir(path.parent)
    if path.is_dir():
        raise OutputError(path, "it is a directory; expected a file name")
    return path


def fallback_dir(label: str) -> Path:
    """A new private directory (mode 0700) under the system's temporary directory for results that could
    not go where they were meant to."""
    return Path(tempfile.mkdtemp(prefix=f"neuroctl-{label}-"))


def write_with_fallback(write: Callable[[Path], None], out_dir: Path, label: str) -> tuple[Path, str | None]:
    """`write(out_dir)`; if that fails with an OSError, `write` into a `fallback_dir` instead.

    Returns the directory that holds the results and the problem with `out_dir` (None if there was
    none). Raises ResultsLost (naming both problems) when the fallback fails too.
    """
    try:
        write(out_dir)
        return out_dir, None
    except OSError as exc:
        problem = _os_problem(exc)
    try:
        fallback = fallback_dir(label)
        write(fallback)
    except OSError as exc:
        raise ResultsLost(f"cannot write results to {str(out_dir)!r} ({problem}) nor to a temporary "
                          f"directory ({_os_problem(exc)}): the results are lost") from None
    return fallback, problem


def fallback_message(out_dir: Path, kept_in: Path, problem: str) -> str:
    """The one line that says results went to the fallback `kept_in` instead of `out_dir`."""
    return f"error: cannot write results to {str(out_dir)!r}: {problem}; they are kept in {str(kept_in)!r}"
