"""Keyword argument checks shared by the environments.

Each check raises `ValueError("<kwarg path>: <what is expected>, got <value>")`, so that a launch file
can report the key path (`env.kwargs.<kwarg path>`) and the user sees what to write instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neuroctl.config import shown


def invalid(name: str, expected: str, value: Any) -> ValueError:
    """The error for keyword argument (path) `name`: `<name>: <expected>, got <value>`."""
    return ValueError(f"{name}: {expected}, got {shown(value)}")


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


MAX_TIME_S = 1e6  # times and durations counted from a reset (11.6 days): tick counts stay small integers


def in_range(name: str, value: Any, what: str, low: float, high: float, unit: str = "", *,
             open_low: bool = False) -> float:
    """`value` as a finite float in [low, high] (in (low, high] with `open_low`), else the error
    `<name>: must be <what> in [low, high] <unit>, got <value>` (bools, strings, huge integers too)."""
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}]{' ' + unit if unit else ''}"
    expected = f"must be {what} in {interval}" if what else f"must be in {interval}"
    number = real(name, value, expected)
    if not (low < number <= high if open_low else low <= number <= high):
        raise invalid(name, expected, value)
    return number


def ticks(seconds: float, period_s: float) -> int:
    """The first tick at or after `seconds` (ticks every `period_s` from 0), for bounded finite times."""
    return math.ceil(seconds / period_s - 1e-9)
