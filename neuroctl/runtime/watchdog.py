"""The last check before the actuator: a non-finite or out-of-range command never reaches it."""

from __future__ import annotations

import numpy as np

from neuroctl.network.jit import cached_njit


@cached_njit(inline=True)
def guard_command(proposed, lowest, highest, hold_last, last_good, zero_command, replaced, command):
    """command = proposed when every value is within [lowest, highest] (NaN fails both comparisons), and
    then last_good = proposed; else command = last_good (`hold_last`) or zero_command, and replaced[0]
    counts one more. Returns whether it replaced."""
    ok = True
    for i in range(proposed.shape[0]):
        if not lowest[i] <= proposed[i] <= highest[i]:
            ok = False
    if ok:
        for i in range(proposed.shape[0]):
            last_good[i] = proposed[i]
            command[i] = proposed[i]
        return False
    replaced[0] += 1
    safe = last_good if hold_last else zero_command
    for i in range(proposed.shape[0]):
        command[i] = safe[i]
    return True


@cached_njit
def _guard(proposed, lowest, highest, hold_last, last_good, zero_command, replaced, command):
    return guard_command(proposed, lowest, highest, hold_last, last_good, zero_command, replaced, command)


class CommandWatchdog:
    """Replaces a command that is non-finite or outside [low, high] (within `tolerance`) by a safe one,
    and counts it. The safe command is zero (clipped into the bounds) or the last command that passed.

    The command to apply is written into `command` (float64, reused): the loop's compiled tick runs the
    same check (`guard_command`) on these arrays.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, safe: str = "zero", tolerance: float = 1e-9):
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.lowest = self.low - tolerance
        self.highest = self.high + tolerance
        self.hold_last = safe == "hold"
        self.zero_command = np.clip(np.zeros_like(self.low), self.low, self.high)
        self.last_good = self.zero_command.copy()
        self.command = self.zero_command.copy()
        self.replacements = np.zeros(1, dtype=np.int64)

    @property
    def replaced(self) -> int:
        """Commands replaced since the last reset."""
        return int(self.replacements[0])

    def reset(self) -> None:
        self.last_good[:] = self.zero_command
        self.command[:] = self.zero_command
        self.replacements[0] = 0

    def check(self, proposed: np.ndarray) -> tuple[np.ndarray, bool]:
        """Return (command to apply: `command`, a reused array; whether it was replaced)."""
        replaced = _guard(np.asarray(proposed, dtype=np.float64), self.lowest, self.highest, self.hold_last,
                          self.last_good, self.zero_command, self.replacements, self.command)
        return self.command, bool(replaced)
