"""Atomic result files: written to a temporary file in the same directory, then renamed into place.

A crash or an interrupt leaves either the old file or the complete new one, never half a file, and no
temporary file behind (unless the process is killed outright).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


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


def atomic_write_json(path: str | Path, document: Any) -> None:
    """Write `document` as indented JSON (NaN and infinities refused: a ValueError, nothing written)."""
    atomic_write_bytes(path, (json.dumps(document, indent=2, allow_nan=False) + "\n").encode())
