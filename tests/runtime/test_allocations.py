"""Nothing is allocated per tick on the loop's path: the cart-pole at 1 kHz under a compiled controller,
the real `run_episode`, measured with tracemalloc.

tracemalloc reports the most memory held at any moment (its peak), not a count of allocations, so the
test measures the peak above the level at the start of each stretch of Python code, and pauses the
measurement over the calls into PyBullet and numba: those allocate small blocks of their own per call
(PyBullet's argument parsing, numba's unboxing of each array argument: 48-240 bytes), which the loop's
design cannot remove. What remains is what the loop's and the environment's Python allocate: it must stay
below the smallest numpy array, while the gymnasium `step` path (a fresh observation, info, copies of the
state and command) is caught at several arrays.
"""

import sys
import tracemalloc

import gymnasium
import numpy as np
import pytest

import neuroctl  # noqa: F401  (registers the environments)
import neuroctl.envs.bullet_robot as bullet_robot
import neuroctl.envs.cartpole as cartpole
import neuroctl.runtime.loop as loop
from neuroctl.control.lqr import LQRConfig, LQRController
from neuroctl.launchfile import linear_model_of
from neuroctl.runtime.loop import LoopSettings, make_recorder, run_episode

N_TICKS = 1500
ARRAY_BYTES = sys.getsizeof(np.empty(0))  # the smallest numpy array: its object alone (112 bytes)
MEASURED_FROM_TICK = 300  # after the first progress reports: every path of a tick has run


class TransientMeter:
    """The largest peak of traced memory above the level at the start of a stretch (bytes), over all
    stretches between `resume()` and `pause()`; `paused(fn)` wraps a callable so that what it holds
    during its call is not counted."""

    def __init__(self) -> None:
        self.worst = 0
        self.base = 0
        self.running = False

    def resume(self) -> None:
        if self.running:
            self.base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    def pause(self) -> None:
        if self.running:
            peak = tracemalloc.get_traced_memory()[1] - self.base
            if peak > self.worst:
                self.worst = peak

    def paused(self, fn):
        def call(*args, **kwargs):
            self.pause()
            result = fn(*args, **kwargs)
            self.resume()
            return result

        return call


class PausedModule:
    """A module's callables, each wrapped by `meter.paused` (its constants as they are)."""

    def __init__(self, module, meter: TransientMeter) -> None:
        for name in dir(module):
            value = getattr(module, name)
            setattr(self, name, meter.paused(value) if callable(value) else value)


class Passthrough(gymnasium.Wrapper):
    """A wrapper that changes nothing but is not bookkeeping: the loop steps it through gymnasium's `step`."""


def transient_bytes_per_tick(monkeypatch, wrap) -> int:
    """The worst transient of the loop's Python code over ticks MEASURED_FROM_TICK..N_TICKS (bytes), for
    the cart-pole at 1 kHz under LQR through the compiled tick."""
    meter = TransientMeter()
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", disable_env_checker=True, max_episode_steps=10**9,
                         control_period_s=0.001, max_force_n=6.0, initial_theta_rad=(0.0, 0.05))
    controller = LQRController(LQRConfig(q=(1.0, 10.0, 0.1, 0.1), r=(1.0,)), linear_model_of(env), 4)
    settings = LoopSettings(n_ticks=N_TICKS, control_period_s=0.001, seed=3)
    recorder = make_recorder(env, controller, settings.n_ticks)
    for module in (bullet_robot, cartpole):
        monkeypatch.setattr(module, "pybullet", PausedModule(module.pybullet, meter))
    for kernel in ("command_and_cost", "bounded_observation"):
        monkeypatch.setattr(bullet_robot, kernel, meter.paused(getattr(bullet_robot, kernel)))
    entry_point = loop.entry_point
    monkeypatch.setattr(loop, "entry_point", lambda *arguments: meter.paused(entry_point(*arguments)))

    def on_tick(k: int) -> None:
        meter.pause()
        if k >= MEASURED_FROM_TICK:
            meter.running = True
        meter.resume()

    tracemalloc.start(1)
    try:
        outcome = run_episode(wrap(env), controller, settings, recorder, on_tick=on_tick)
        meter.running = False
    finally:
        tracemalloc.stop()
        env.close()
    assert outcome.ticks == N_TICKS and outcome.terminated_at_tick is None
    return meter.worst


def test_the_loop_allocates_no_array_per_tick(monkeypatch):
    """What is left: Python ints beyond the small-int cache (the substep counter) and the like."""
    assert transient_bytes_per_tick(monkeypatch, lambda env: env) < ARRAY_BYTES


def test_the_meter_sees_the_gymnasium_step_allocate(monkeypatch):
    """The same measurement through gymnasium's `step` (the observation and info fresh every step)."""
    assert transient_bytes_per_tick(monkeypatch, Passthrough) >= 2 * ARRAY_BYTES
