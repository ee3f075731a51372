"""Progress on the terminal: one tqdm bar on stderr, and nothing at all when stderr is not a terminal
(a log file, a pipe, pytest's capture), so that captured output stays clean."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class ProgressBar:
    """A tqdm bar on `stream` (stderr by default) if it is a terminal; otherwise every call is a no-op.

    `total` None gives a status line (`status(text)`, elapsed time) rather than a bar. Use it as a
    context manager or call `close()`; `update_to(n)` moves a bar to n of total."""

    def __init__(self, label: str, total: int | None = None, unit: str = "it",
                 stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        self.bar: Any = None
        if not is_terminal(stream):
            return
        from tqdm import tqdm

        bar_format = "{desc}: {postfix} [{elapsed}]" if total is None else None
        # leave=False until close(): a bar dropped without close() (a run that stopped short, whose
        # caller ended the line itself) is cleared quietly when it is collected
        self.bar = tqdm(total=total, desc=label, unit=unit, file=stream, leave=False,
                        dynamic_ncols=True, mininterval=0.1, bar_format=bar_format)

    @property
    def enabled(self) -> bool:
        return self.bar is not None

    def update_to(self, n: int) -> None:
        if self.bar is not None and n != self.bar.n:
            self.bar.update(n - self.bar.n)

    def status(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def close(self, leave: bool | None = None) -> None:
        """End the bar; `leave` keeps its last state on the terminal (default: a bar keeps it, a status
        line is cleared)."""
        if self.bar is not None:
            self.bar.leave = self.bar.total is not None if leave is None else leave
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TickProgress:
    """Called with (k, total): a bar that opens on the first call and closes at k == total; `close()`
    ends it early (a run that stopped short of its end)."""

    def __init__(self, label: str, unit: str = "it", stream: TextIO | None = None) -> None:
        self.label, self.unit, self.stream = label, unit, stream
        self.bar: ProgressBar | None = None

    def __call__(self, k: int, total: int) -> None:
        if self.bar is None:
            self.bar = ProgressBar(self.label, total, self.unit, self.stream)
        self.bar.update_to(k)
        if k >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal (False for a stream without isatty or a closed one)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
