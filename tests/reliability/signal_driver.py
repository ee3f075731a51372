"""`neuroctl` with a signal at a chosen point of a run, for test_interrupts.py.

    python signal_driver.py WHEN HOW NEUROCTL-ARGS...

WHEN: `build` (as the controller is built), `warmup` (as its warm-up starts) or `tick` (after tick 20).
HOW: `INT` or `TERM` (the process sends itself that signal then), or `announce` (it prints "tick 20" on
stderr and the test sends the signal).
"""

import os
import signal
import sys

import neuroctl.run
from neuroctl.cli import main
from neuroctl.control.base import Controller

TICK = 20


def signal_now(how: str) -> None:
    if how == "announce":
        print(f"tick {TICK}", file=sys.stderr, flush=True)
    else:
        os.kill(os.getpid(), getattr(signal, f"SIG{how}"))


def at_build(how: str) -> None:
    build = neuroctl.run.build_controller

    def signalling_build(*args, **kwargs):
        signal_now(how)
        return build(*args, **kwargs)
    neuroctl.run.build_controller = signalling_build


def at_warmup(how: str) -> None:
    warmup = Controller.warmup

    def signalling_warmup(self):
        signal_now(how)
        warmup(self)
    Controller.warmup = signalling_warmup


def at_tick(how: str) -> None:
    def printer(label, *args, **kwargs):
        return lambda k, total: signal_now(how) if k == TICK else None
    neuroctl.run.progress_printer = printer


if __name__ == "__main__":
    when, how, *arguments = sys.argv[1:]
    {"build": at_build, "warmup": at_warmup, "tick": at_tick}[when](how)
    sys.exit(main(arguments))
