"""Gradient neurons: a recurrent network of sigma-delta neurons that solves `min 1/2 z'Wz + b'z + h(z)`.

One gradient neuron per decision value z_i, W symmetric (n, n), h elementwise (a box, or its dual's
dead zone). Each iteration is a proximal gradient step with momentum:

    g = W w_hat + b,   z_i <- prox_h(w_i - s g_i),   w_i <- z_i + beta (z_i - z_i^previous)

without the momentum term for a neuron whose step went uphill, (w_i - z_i)(z_i - z_i^previous) > 0 (the
gradient restart of O'Donoghue and Candes, per neuron so that it stays local), and with beta = 0 on the
last iteration, so that a call ends on a proximal point. prox_h is either the clip to [lower, upper]
("primal") or v - s clip(v / s, lower, upper) (the dual of that box, a dead zone); with `dual` the
network's read-out is u_i = clip(-g_i, lower, upper) after one more round of events.

The neurons talk with sigma-delta events (`neuroctl.network.sigma_delta`): neuron j sends d = w_j -
w_hat_j when |d| > theta_j, over a dense connection (`neuroctl.network.dense`) with fan-out row W_j, into
every neuron's accumulator (the receivers' W w_hat). The linear term comes from sensor neurons, one per
input value x_m: sigma-delta neurons with threshold theta_sensor_m whose events reach b = E x_hat through
a dense connection (fan-out row E'_m). A reading that is non-finite or beyond +-SENSOR_LIMIT is ignored,
so x_hat keeps its last value and no reading can overflow an accumulator.

The dense twin (`dense = True`) runs the same iterations with b = E x and g = W w + b fully multiplied
every iteration (no events, exact values): with all thresholds at 0 the two compute the same z.

Counters per call, ADDED to `activity` (len(COUNTER_FIELDS), `neuroctl.activity`): SPIKES = sensor +
neuron events; SYNAPTIC_EVENTS = GRADED_SYNAPTIC_EVENTS = events x n (every event carries a value); NEURON_UPDATES = K n + nx; DENSE_MACS = K n^2 + nx n (+ n^2 for the dual
read-out), what the dense twin does. The dense twin adds only its DENSE_MACS.

Raster (uint8, one row per round of events, n + nx columns: gradient neurons, then sensor neurons): 1
where a neuron sent an event. Row k holds iteration k's neuron events, the sensor events (sent once at
the start of a call) are in row 0, the dual's read-out is an extra last row (K + 1 rows), so the raster's
sum is the call's spike count. A (0, n + nx) raster records nothing.
"""

from __future__ import annotations

import numpy as np

from neuroctl.activity import (COUNTER_FIELDS, DENSE_MACS, GRADED_SYNAPTIC_EVENTS, NEURON_UPDATES, SPIKES,
                               SYNAPTIC_EVENTS)
from neuroctl.network.dense import NO_SYNAPSES, deliver_dense, dense_product, send_events
from neuroctl.network.jit import cached_njit
from neuroctl.network.sigma_delta import sigma_delta_fires

ITERATE, SENT, RECEIVED, ACCUMULATED, INPUT, GRADIENT = range(6)
"""Rows of the network's (6, n) state: z, the values w the neurons send, the receivers' copy w_hat,
W w_hat, b = E x_hat, and the gradient (scratch)."""

SENSOR_LIMIT = 1e9
"""Largest reading magnitude (input units) a sensor neuron accepts; beyond it the reading is ignored."""


@cached_njit(inline=True)
def gradient_network_solve(
    x, weights, sensor_weights, lower, upper, thresholds, sensor_thresholds,
    step, beta, iterations, dual, dense, state, x_hat, out, activity, raster,
):  # fmt: skip
    """Encode x, run K iterations from the current z, read out into `out` (n,): z, or the dual's u.

    weights W (n, n) symmetric; sensor_weights E' (nx, n) (row m: sensor m's fan-out); lower/upper: the box (n,); thresholds (n,), sensor_thresholds
    (nx,); state (6, n) (rows ITERATE...GRADIENT), x_hat (nx,) the input the network knows; activity
    int64, counters added (module docstring); raster uint8 (K + dual, n + nx) zeroed then marked, or
    (0, n + nx).
    """
    n = weights.shape[0]
    nx = x.shape[0]
    z, w = state[ITERATE], state[SENT]
    raster.fill(0)
    spikes = _encode(x, sensor_weights, sensor_thresholds, dense, state, x_hat, raster)
    for i in range(n):
        w[i] = z[i]
    for k in range(iterations):
        spikes += _gradient(weights, thresholds, dense, state, raster, k)
        momentum = beta if k < iterations - 1 else 0.0
        _prox_step(step, momentum, lower, upper, dual, state)
    if dual:
        spikes += _gradient(weights, thresholds, dense, state, raster, iterations)
        for i in range(n):
            out[i] = min(max(-state[GRADIENT, i], lower[i]), upper[i])
    else:
        for i in range(n):
            out[i] = z[i]
    activity[DENSE_MACS] += iterations * n * n + nx * n + (n * n if dual else 0)
    if not dense:
        activity[SPIKES] += spikes
        activity[SYNAPTIC_EVENTS] += spikes * n
        activity[GRADED_SYNAPTIC_EVENTS] += spikes * n  # every event carries a value
        activity[NEURON_UPDATES] += iterations * n + nx


@cached_njit
def _encode(x, sensor_weights, sensor_thresholds, dense, state, x_hat, raster):
    """Sensor neurons: update x_hat and b = E x_hat (dense: every product, delivered sensor by sensor in
    the fan-out layout); return the events sent. Sensor m's event is marked in raster[0, n + m]."""
    n = state.shape[1]
    b = state[INPUT]
    record = raster.shape[0] > 0
    events = 0
    for m in range(x.shape[0]):
        if not abs(x[m]) <= SENSOR_LIMIT:  # beyond the limit, or NaN
            continue
        if dense:
            x_hat[m] = x[m]
            continue
        if sigma_delta_fires(x[m], x_hat[m], sensor_thresholds[m]):
            change = x[m] - x_hat[m]
            x_hat[m] = x[m]
            events += 1
            if record:
                raster[0, n + m] = 1
            deliver_dense(sensor_weights, m, change, b)
    if dense:
        b[:] = 0.0
        for m in range(x.shape[0]):
            deliver_dense(sensor_weights, m, x_hat[m], b)
    return events


@cached_njit
def _gradient(weights, thresholds, dense, state, raster, row):
    """GRADIENT = W w_hat + b, from the events of every neuron whose value moved (dense: the full
    product with w); return the events sent. Neuron j's event is marked in raster[row, j]."""
    n = weights.shape[0]
    w, w_hat, accumulated = state[SENT], state[RECEIVED], state[ACCUMULATED]
    b, gradient = state[INPUT], state[GRADIENT]
    if dense:
        gradient[:] = b
        dense_product(weights, w, gradient)
        return 0
    # W symmetric: row j is neuron j's fan-out
    events, _ = send_events(w, w_hat, thresholds, weights, accumulated, NO_SYNAPSES, accumulated[:0], raster, row, 0)
    for i in range(n):
        gradient[i] = accumulated[i] + b[i]
    return events


@cached_njit
def _prox_step(step, momentum, lower, upper, dual, state):
    """The gradient neurons' own dynamics: z <- prox(w - s g), w <- z + momentum (z - z_previous) (no
    momentum for a neuron whose step went uphill)."""
    z, w, gradient = state[ITERATE], state[SENT], state[GRADIENT]
    for i in range(z.shape[0]):
        v = w[i] - step * gradient[i]
        if dual:
            updated = v - step * min(max(v / step, lower[i]), upper[i])
        else:
            updated = min(max(v, lower[i]), upper[i])
        uphill = (w[i] - updated) * (updated - z[i]) > 0.0
        w[i] = updated if uphill else updated + momentum * (updated - z[i])
        z[i] = updated


def gradient_network_solve_reference(
    x: np.ndarray, weights: np.ndarray, sensor_weights: np.ndarray, lower: np.ndarray, upper: np.ndarray,
    thresholds: np.ndarray, sensor_thresholds: np.ndarray, step: float, beta: float, iterations: int,
    dual: bool, dense: bool, state: np.ndarray, x_hat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """numpy reference of `gradient_network_solve`, vectorised over neurons (events of one round
    delivered together, in one matrix product): (out, new state, new x_hat, counters (len(COUNTER_FIELDS),),
    raster);
    the inputs are not changed."""
    n, nx = weights.shape[0], x.shape[0]
    state, x_hat = state.copy(), x_hat.copy()
    z, w, w_hat, accumulated, b, gradient = state
    raster = np.zeros((iterations + int(dual), n + nx), dtype=np.uint8)
    usable = np.abs(x) <= SENSOR_LIMIT
    if dense:
        x_hat[usable] = x[usable]
        b[:] = x_hat @ sensor_weights
    else:
        fired = usable & (np.abs(x - x_hat) > sensor_thresholds)
        b += np.where(fired, x - x_hat, 0.0) @ sensor_weights
        x_hat[fired] = x[fired]
        raster[0, n:] = fired
    w[:] = z

    def gradient_round(row: int) -> None:
        if dense:
            gradient[:] = b + weights @ w
            return
        fired = np.abs(w - w_hat) > thresholds
        accumulated[:] += weights @ np.where(fired, w - w_hat, 0.0)
        w_hat[fired] = w[fired]
        raster[row, :n] = fired
        gradient[:] = accumulated + b

    for k in range(iterations):
        gradient_round(k)
        momentum = beta if k < iterations - 1 else 0.0
        v = w - step * gradient
        updated = v - step * np.clip(v / step, lower, upper) if dual else np.clip(v, lower, upper)
        uphill = (w - updated) * (updated - z) > 0.0
        w[:] = np.where(uphill, updated, updated + momentum * (updated - z))
        z[:] = updated
    if dual:
        gradient_round(iterations)
        out = np.clip(-gradient, lower, upper)
    else:
        out = z.copy()
    spikes = 0 if dense else int(raster.sum())
    counters = np.zeros(len(COUNTER_FIELDS), dtype=np.int64)
    counters[[SPIKES, SYNAPTIC_EVENTS, GRADED_SYNAPTIC_EVENTS]] = spikes, spikes * n, spikes * n
    counters[NEURON_UPDATES] = 0 if dense else iterations * n + nx
    counters[DENSE_MACS] = iterations * n * n + nx * n + (n * n if dual else 0)
    return out, state, x_hat, counters, raster
