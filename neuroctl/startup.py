"""The first moments of the `neuroctl` command: Ctrl-C while the package is still importing.

`import neuroctl` imports gymnasium (a few hundred milliseconds) before any of the command's own code
runs, so a SIGINT then would end in a KeyboardInterrupt traceback (or, raised inside one of the import
system's callbacks, be ignored). When this process is the `neuroctl` command (`python -m neuroctl` or
the console script) and SIGINT has Python's default handler, it is replaced by one that only records
the signal; `neuroctl.cli.main` puts the default handler back as it starts and, if a SIGINT came,
says "interrupted" and exits with 130 before doing anything. A program that merely imports neuroctl is
left alone. (A SIGINT before the interpreter reaches `import neuroctl`, in its first few tens of
milliseconds, is Python's own to handle.)
"""

from __future__ import annotations

import os
import signal
import sys

_received: list[int] = []


def started_as_command() -> bool:
    """Whether this process is `python -m neuroctl ...` or the `neuroctl` console script."""
    argv = getattr(sys, "orig_argv", [])
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "neuroctl":
        return True
    return bool(sys.argv) and os.path.basename(sys.argv[0]) == "neuroctl"


def _record(signum: int, frame: object) -> None:
    _received.append(signum)


def record_interrupt_while_starting() -> None:
    """In the `neuroctl` command, record a SIGINT that comes before `cli.main` runs."""
    if started_as_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _record)


def interrupted_while_starting() -> bool:
    """Undo `record_interrupt_while_starting` (SIGINT raises KeyboardInterrupt again from here on);
    whether a SIGINT came before."""
    if signal.getsignal(signal.SIGINT) is _record:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return bool(_received)
