"""The Brian2 venv: created once by the suite (Brian2 needs numpy < 2.4, the project uses newer numpy).

`python -m venv DIR` + `pip install brian2 'numpy<2.4' cython` (the suite's `brian2.requirements`),
reused while `import brian2, numpy, Cython` works in it. Any failure is `Unavailable` with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

from neuroctl.bench.simulators import Unavailable

_PROBE = ("import json, platform, brian2, numpy, Cython; print(json.dumps({'brian2': brian2.__version__, "
          "'numpy': numpy.__version__, 'cython': Cython.__version__, 'python': platform.python_version()}))")


def venv_python(directory: Path) -> Path:
    return directory / "bin" / "python"


def installed_versions(directory: Path) -> dict[str, str] | None:
    """Versions of brian2, numpy, Cython and Python in the venv, or None if it cannot import them."""
    python = venv_python(directory)
    if not python.is_file():
        return None
    probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=300)
    return json.loads(probe.stdout) if probe.returncode == 0 else None


def ensure_venv(directory: Path, requirements: list[str], create: bool, timeout_s: float,
                progress: Callable[[str], None]) -> dict[str, str]:
    """Make sure a working Brian2 venv exists at `directory`; return its versions."""
    versions = installed_versions(directory)
    if versions is not None:
        return versions
    if not create:
        raise Unavailable(f"no working Brian2 venv at {directory} (brian2.create_venv is false)")
    progress(f"creating the Brian2 venv in {directory} (once; a few minutes)")
    _run([sys.executable, "-m", "venv", str(directory)], "python -m venv", timeout_s)
    _run([str(venv_python(directory)), "-m", "pip", "install", "--quiet", *requirements],
         "pip install " + " ".join(requirements), timeout_s)
    versions = installed_versions(directory)
    if versions is None:
        raise Unavailable(f"the Brian2 venv at {directory} cannot import brian2, numpy and Cython after "
                          "pip install")
    return versions


def _run(command: list[str], what: str, timeout_s: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        raise Unavailable(f"{what} failed with exit code {done.returncode}: {_reason(done.stderr)}")


def _reason(stderr: str) -> str:
    """The line of pip's or venv's output that says what went wrong (an ERROR line, else the last one)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]
