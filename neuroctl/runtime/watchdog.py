"""The last check before the actuator: a non-finite or out-of-range command never reaches it."""

from __future__ import annotations

import numpy as np


class CommandWatchdog:
    """Replaces a command that is non-finite or outside [low, high] by a safe one, and counts it.

    The safe command is zero (clipped into the bounds) or the last command that passed the check.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, safe: str = "zero", tolerance: float = 1e-9):
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self._lowest = (self.low - tolerance).tolist()
        self._highest = (self.high + tolerance).tolist()
        self.hold_last = safe == "hold"
        self.zero_command = np.clip(np.zeros_like(self.low), self.low, self.high)
        self.last_good = self.zero_command.copy()
        self.replaced = 0

    def reset(self) -> None:
        self.last_good[:] = self.zero_command
        self.replaced = 0

    def check(self, command: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return (command to apply, whether it was replaced). NaN fails both comparisons."""
        ok = all(lo <= c <= hi for c, lo, hi in zip(command.tolist(), self._lowest, self._highest))
        if ok:
            self.last_good[:] = command
            return command, False
        self.replaced += 1
        return (self.last_good if self.hold_last else self.zero_command).copy(), True
