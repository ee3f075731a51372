"""`neuroctl` with a signal at a chosen point of a run, for test_interrupts.py.

    python signal_driver.py WHEN HOW NEUROCTL-ARGS...

WHEN: `env` (as the environment is made), `build` (as the controller is built), `warmup` (as its warm-up
starts), `tick` (at the first progress report after tick 20), `metrics` (as a finished run's metrics are built) or `frame` (as the
third video frame is drawn).
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
        print("driver: signal sent", file=sys.stderr, flush=True)
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


def at_env(how: str) -> None:
    make_env = neuroctl.run.make_env

    def signalling_make_env(*args, **kwargs):
        signal_now(how)
        return make_env(*args, **kwargs)
    neuroctl.run.make_env = signalling_make_env


def at_metrics(how: str) -> None:
    build_metrics = neuroctl.run.build_metrics

    def signalling_build_metrics(*args, **kwargs):
        signal_now(how)
        return build_metrics(*args, **kwargs)
    neuroctl.run.build_metrics = signalling_build_metrics


def at_frame(how: str) -> None:
    import neuroctl.viz.video

    draw = neuroctl.viz.video.Overlay.draw

    def signalling_draw(self, frame, k):
        if k == 2 * neuroctl.viz.video.frame_stride(self.period):
            signal_now(how)
        return draw(self, frame, k)
    neuroctl.viz.video.Overlay.draw = signalling_draw


class _SignallingProgress:
    """A progress callback (as `neuroctl.run.progress_printer` returns) that signals at tick TICK."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.fired = False

    def __call__(self, k: int, total: int) -> None:
        if k >= TICK and not self.fired:  # progress comes every n_ticks / 200 ticks, not every tick
            self.fired = True
            signal_now(self.how)

    def close(self) -> None:
        pass


def at_tick(how: str) -> None:
    neuroctl.run.progress_printer = lambda label, *args, **kwargs: _SignallingProgress(how)


if __name__ == "__main__":
    when, how, *arguments = sys.argv[1:]
    {"env": at_env, "build": at_build, "warmup": at_warmup, "tick": at_tick, "metrics": at_metrics,
     "frame": at_frame}[when](how)
    sys.exit(main(arguments))
