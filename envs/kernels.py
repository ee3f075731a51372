"""The per-step array work of `BulletRobotEnv`, compiled: numpy's small-array calls cost 1-5 us each
(`np.all(np.isfinite(a))` alone ~4 us for one value), more than these loops over a few values."""

from __future__ import annotations

import numpy as np

from neuroctl.network.jit import cached_njit


@cached_njit
def scaled_command(action, scale, out):
    """out = clip(action, -1, 1) * scale, elementwise; if any action is not finite, out = 0 and False
    is returned (no command), else True."""
    for i in range(action.shape[0]):
        if not np.isfinite(action[i]):
            out[:] = 0.0
            return False
    for i in range(action.shape[0]):
        out[i] = min(max(action[i], -1.0), 1.0) * scale[i]
    return True


@cached_njit
def task_cost(error, cost_q, command, scale, cost_r):
    """e'Qe + a'Ra with Q = diag(cost_q), R = diag(cost_r), a = command / scale (the normalised command)."""
    state_cost = 0.0
    for i in range(error.shape[0]):
        state_cost += error[i] * (cost_q[i] * error[i])
    action_cost = 0.0
    for i in range(command.shape[0]):
        a = command[i] / scale[i]
        action_cost += a * (cost_r[i] * a)
    return state_cost + action_cost


@cached_njit
def command_and_cost(action, scale, command, error, cost_q, cost_r):
    """`scaled_command` into `command`, then `task_cost` of `error` and that command, in one call:
    returns (whether the action was finite, the cost)."""
    finite = scaled_command(action, scale, command)
    return finite, task_cost(error, cost_q, command, scale, cost_r)


@cached_njit
def bounded_observation(clean, low, high, observed, out):
    """observed (float32) = clean rounded to float32, then limited to [low, high] (NaN stays NaN); out
    (any float dtype) = the same values."""
    for i in range(clean.shape[0]):
        value = np.float32(clean[i])
        if value > high[i]:
            value = high[i]
        if value < low[i]:
            value = low[i]
        observed[i] = value
        out[i] = value
