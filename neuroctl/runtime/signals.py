"""SIGINT and SIGTERM for the command line: a run stops cleanly, anything else stops at once.

- `StopRequest` (around one run): a signal is recorded and the loop stops before its next tick, so the
  run ends with complete results whatever it was doing (building, warming up, ticking, writing).
- `Interruptible` (around a command made of runs or other slow steps: an evaluation, a benchmark suite,
  a video): a signal raises `Interrupted` at once; one that a `StopRequest` inside recorded is raised as
  `Interrupted` when that run's block ends, so that the command stops after the run instead of going on
  with the next one.

Both only act in the main thread (elsewhere signals are not ours to handle) and restore the previous
handlers when their block ends.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received by an `Interruptible` command."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class _SignalScope(ABC):
    """Installs `_handle` for SIGINT and SIGTERM while entered; the previous handlers come back after."""

    def __init__(self) -> None:
        self._previous: dict[int, object] = {}

    def __enter__(self):
        for signum in SIGNALS:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @abstractmethod
    def _handle(self, signum: int, frame: object) -> None:
        """What a SIGINT/SIGTERM does while entered."""

    def _inside_interruptible(self) -> bool:
        return any(isinstance(getattr(h, "__self__", None), Interruptible) for h in self._previous.values())


class StopRequest(_SignalScope):
    """Records the first SIGINT/SIGTERM while entered; the loop stops before its next tick.

    Enter it before anything slow (environment, controller, warm-up): a signal at any point of the run
    then ends it cleanly, with complete results.
    """

    def __init__(self) -> None:
        super().__init__()
        self.signal_number: int | None = None

    def __exit__(self, exc_type: object, *rest: object) -> None:
        inside = self._inside_interruptible()
        super().__exit__(exc_type, *rest)
        if self.signal_number is not None and inside and exc_type is None:
            raise Interrupted(self.signal_number)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal_number is None:
            self.signal_number = signum

    @property
    def requested(self) -> bool:
        return self.signal_number is not None


class Interruptible(_SignalScope):
    """SIGINT/SIGTERM raise `Interrupted` while entered (see the module docstring)."""

    def __enter__(self) -> "Interruptible":
        return super().__enter__()

    def _handle(self, signum: int, frame: object) -> None:
        raise Interrupted(signum)
