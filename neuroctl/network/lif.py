"""Leaky integrate-and-fire (LIF) neuron: one exact substep, its analytic rate curve, NEF gain and bias.

Dynamics (dimensionless voltage and current, time in seconds)::

    tau_rc dv/dt = J - v,   spike when v crosses 1, then v = 0 and v is held for tau_ref,

with v floored at 0 (as Nengo's LIF does, so that strong inhibition does not store up a deep
hyperpolarisation). Over a substep of length dt with J held constant the solution is exact:
v <- v + (J - v)(1 - exp(-dt_eff / tau_rc)), where dt_eff is the part of the substep after the
refractory period ends. The spike time is found by inverting that solution within the substep, so a
neuron driven by a constant J fires at exactly the analytic rate r(J) whatever dt is, as long as
dt <= tau_ref (at most one spike per substep).

A substep is split in two so that the kernel's pass over all neurons is branch-free and cheap:
`lif_integrate` (every neuron; the common case of a neuron neither spiking nor ending its refractory
period is then done) and `lif_finish` (only the neurons `lif_integrate` flags: those that crossed the
threshold or whose refractory period ended within the substep; this is where the transcendental
functions are).
"""

from __future__ import annotations

import math

import numpy as np

from neuroctl.network.jit import cached_njit


@cached_njit
def lif_integrate(
    v: float, refractory_s: float, current: float, dt: float, rc_factor: float
) -> tuple[float, float, bool]:
    """First part of a substep; return (voltage, refractory, needs `lif_finish`).

    `refractory_s` is the refractory time left (>= 0); `rc_factor` is 1 - exp(-dt / tau_rc). A neuron
    out of its refractory period integrates the whole substep; a refractory one is held and its time
    left drops by dt. When that makes it negative, the period ended -refractory_s seconds before the end
    of the substep and `lif_finish` integrates that part.
    """
    factor = rc_factor if refractory_s <= 0.0 else 0.0
    v = max(v + (current - v) * factor, 0.0)
    refractory_s = refractory_s - dt if refractory_s > 0.0 else 0.0
    return v, refractory_s, (v > 1.0) | (refractory_s < 0.0)


@cached_njit
def lif_finish(
    v: float, refractory_s: float, current: float, tau_rc_s: float, tau_ref_s: float
) -> tuple[float, float, bool]:
    """Second part of a substep for a flagged neuron; return (voltage, refractory time left >= 0, spiked).

    Integrates the time after a refractory period that ended within the substep, then, if v crossed 1,
    resets v and starts the refractory period at the crossing time (tau_ref minus the time since it).
    """
    if refractory_s < 0.0:
        v = max(v + (current - v) * -math.expm1(refractory_s / tau_rc_s), 0.0)
        refractory_s = 0.0
    if v > 1.0:  # implies current > 1: v rose from <= 1 towards current
        since_crossing_s = -tau_rc_s * math.log1p(-(v - 1.0) / (current - 1.0))
        return 0.0, tau_ref_s - since_crossing_s, True
    return v, refractory_s, False


def lif_rate(current: np.ndarray, tau_rc_s: float | np.ndarray, tau_ref_s: float | np.ndarray) -> np.ndarray:
    """Analytic firing rate in Hz for a constant input current J:
    1 / (tau_ref + tau_rc log(1 + 1/(J-1))) for J > 1, else 0."""
    current = np.asarray(current, dtype=np.float64)
    above = current > 1.0
    safe = np.where(above, current, 2.0)
    rates = 1.0 / (tau_ref_s + tau_rc_s * np.log1p(1.0 / (safe - 1.0)))
    return np.where(above, rates, 0.0)


def gain_bias(
    max_rates_hz: np.ndarray, intercepts: np.ndarray, tau_rc_s: float, tau_ref_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gain and bias such that J = gain * (e . x) + bias reaches threshold at e . x = intercept and fires
    at max_rate at e . x = 1 (Nengo's LIF.gain_bias). Needs max_rate < 1/tau_ref and intercept < 1."""
    max_rates_hz = np.asarray(max_rates_hz, dtype=np.float64)
    intercepts = np.asarray(intercepts, dtype=np.float64)
    current_at_max = 1.0 / -np.expm1((tau_ref_s - 1.0 / max_rates_hz) / tau_rc_s)
    gain = (1.0 - current_at_max) / (intercepts - 1.0)
    bias = 1.0 - gain * intercepts
    return gain, bias


MIN_CURRENT_MARGIN = 1e-6
"""Smallest J - 1 (relative to the threshold) allowed at a neuron's max rate: below it the rate curve is
flat to within rounding (gain ~ 0: every neuron at threshold, no rates to decode from)."""


def min_tau_rc_s(max_rate_hz: float, tau_ref_s: float) -> float:
    """Smallest tau_rc for which a neuron firing at `max_rate_hz` needs J - 1 >= MIN_CURRENT_MARGIN:
    J_max = 1 / (1 - exp(-(1/max_rate - tau_ref) / tau_rc)), so tau_rc >= (1/max_rate - tau_ref) / log(1 + 1/m)."""
    return (1.0 / max_rate_hz - tau_ref_s) / math.log1p(1.0 / MIN_CURRENT_MARGIN)


def rate_curve_problem(max_rates_hz: tuple[float, float], tau_rc_s: float, tau_ref_s: float) -> tuple[str, str] | None:
    """(parameter, what is expected) when LIF neurons with these parameters cannot have the requested
    rate curve (NEF gain and bias undefined or degenerate), else None."""
    low, high = max_rates_hz
    if high * tau_ref_s >= 1.0:
        return "tau_ref_s", (f"expected < 1/max_rates_hz[1] = {1.0 / high:.6g} s (a LIF neuron fires at most "
                             f"1/tau_ref_s), got {tau_ref_s:g}")
    smallest = min_tau_rc_s(low, tau_ref_s)
    if tau_rc_s < smallest:
        return "tau_rc_s", (f"expected >= {smallest:.3g} s for max_rates_hz[0] = {low:g} Hz and tau_ref_s = "
                            f"{tau_ref_s:g} s (below it the LIF rate curve is flat to rounding and no decoders "
                            f"exist), got {tau_rc_s:g}")
    return None
