"""The machine block of bench.json: what the numbers were measured on, and how loaded it was."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path
from typing import Any

VERSIONED_PACKAGES = ("neuroctl", "numpy", "scipy", "numba", "llvmlite", "pybullet", "gymnasium", "nengo",
                      "brian2", "threadpoolctl")
"""Packages whose installed version (or null: not installed here) the machine block records."""


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (runnable processes; this machine has `cores` cores)."""
    return [round(value, 2) for value in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """CPU, cores, OS, Python and package versions, and the load average now."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: package_version(name) for name in VERSIONED_PACKAGES},
        "load_average_start": load_average(),
    }
