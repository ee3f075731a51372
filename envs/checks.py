"""Keyword argument checks shared by the environments.

Each check raises `ValueError("<kwarg path>: <what is expected>, got <value>")`, so that a launch file
can report the key path (`env.kwargs.<kwarg path>`) and the user sees what to write instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def invalid(name: str, expected: str, value: Any) -> ValueError:
    """The error for keyword argument (path) `name`: `<name>: <expected>, got <value>`."""
    return ValueError(f"{name}: {expected}, got {value!r}")


def real(name: str, value: Any, expected: str) -> float:
    """`value` as a finite float (bools, strings and integers too large for a float refused)."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not is_number:
        raise invalid(name, expected, value)
    try:
        number = float(value)
    except OverflowError:
        raise invalid(name, expected, value) from None
    if not math.isfinite(number):
        raise invalid(name, expected, value)
    return number
