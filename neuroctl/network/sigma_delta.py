"""Sigma-delta neurons (graded spikes, as on Loihi 2): send the change of a value when it exceeds theta.

A sigma-delta neuron holds `sent`, the value its receivers last got. Each step, for its value v::

    d = v - sent;   if |d| > theta:  send one event carrying d, sent <- v;   else: silent

so the receivers, which add up the events, hold `sent`, always within theta of v. A still value sends
nothing: the cost is proportional to how much the value moves, not to the step rate. A non-finite v
never fires (|NaN| > theta is false): the receivers keep the last value sent.

Counters per step of a layer of n neurons (`neuroctl.activity`): SPIKES += events sent, NEURON_UPDATES
+= n. What an event costs its receivers is the connection's: `neuroctl.network.dense`.
"""

from __future__ import annotations

import numpy as np

from neuroctl.network.jit import cached_njit


@cached_njit
def sigma_delta_fires(value: float, sent: float, theta: float) -> bool:
    """Whether a sigma-delta neuron with value `value` sends an event: |value - sent| > theta (theta >= 0).
    The event carries value - sent, and the neuron's `sent` becomes `value`."""
    return abs(value - sent) > theta


@cached_njit
def sigma_delta_step(values: np.ndarray, sent: np.ndarray, thresholds: np.ndarray, events: np.ndarray) -> int:
    """One step of a layer: events[i] = the event of neuron i (0.0 when silent), `sent` updated in place;
    return the number of events."""
    count = 0
    for i in range(values.shape[0]):
        events[i] = 0.0
        if sigma_delta_fires(values[i], sent[i], thresholds[i]):
            events[i] = values[i] - sent[i]
            sent[i] = values[i]
            count += 1
    return count


def sigma_delta_step_reference(
    values: np.ndarray, sent: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """numpy reference of `sigma_delta_step`: (events, new sent values), inputs unchanged."""
    change = values - sent
    fired = np.abs(change) > thresholds
    return np.where(fired, change, 0.0), np.where(fired, values, sent)
