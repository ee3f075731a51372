"""The state as LIF population activity (NEF population coding), decoded back for a controller.

Each state component x_i, clamped to its radius (a non-finite reading held at the last good value and
counted), drives a 1-D population of LIF neurons as current, J = gain e x_i / radius + bias; its estimate
is decoded from the population's filtered spikes, x_hat_i = d . trace. One kernel call per tick runs all
the substeps of all populations. Spike noise makes x_hat jitter by a few tenths of a percent of the
radius; the filter (tau_readout_s) trades that noise for lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroctl.activity import SPIKES, SYNAPTIC_EVENTS
from neuroctl.config import range_field
from neuroctl.encoding import sanitize
from neuroctl.network import NetworkDescription, SpikingNetwork, build
from neuroctl.network.lif import rate_curve_problem

MAX_NEURONS_PER_DIMENSION = 2_000


@dataclass(frozen=True)
class PopulationCodingConfig:
    """LIF populations representing the state, one per component."""

    radii: tuple[float, ...] = range_field((1.2, 0.3, 1.5, 2.5), min=0.0, min_exclusive=True,
                                           doc="range represented per state component (state units)")
    neurons_per_dimension: int = range_field(200, min=1, max=MAX_NEURONS_PER_DIMENSION)
    max_rates_hz: tuple[float, float] = range_field((100.0, 200.0), min=1.0, max=1000.0)
    intercepts: tuple[float, float] = range_field((-0.9, 0.9), min=-1.0, max=0.99)
    tau_rc_s: float = range_field(0.02, min=0.0, min_exclusive=True, max=1.0)
    tau_ref_s: float = range_field(0.002, min=0.0, max=0.1)
    tau_readout_s: float = range_field(0.01, min=0.0, min_exclusive=True, max=1.0,
                                       doc="filter of the spikes that x_hat decodes from")
    substep_s: float = range_field(0.001, min=1e-5, max=0.02, doc="network time step")
    seed: int = range_field(0, min=0, max=2**32 - 1, doc="seed of encoders, gains and biases")


def check_radii(config: PopulationCodingConfig, n_states: int) -> np.ndarray:
    """The radii as an array, one per state component, after `check_population` (ValueError naming the
    `population.<key>` at fault if not)."""
    if len(config.radii) != n_states:
        raise ValueError(f"population.radii: expected {n_states} radii (one per state), got {len(config.radii)}")
    check_population(config)
    return np.asarray(config.radii, dtype=np.float64)


def check_population(config: PopulationCodingConfig) -> None:
    """What the per-key ranges of the config cannot check: the (low, high) ranges in order, and LIF
    parameters for which the NEF rate curve exists and is not degenerate (tau_ref_s < 1/max rate,
    tau_rc_s large enough: `neuroctl.network.lif.rate_curve_problem`). ValueError `population.<key>: ...`."""
    for key in ("max_rates_hz", "intercepts"):
        low, high = getattr(config, key)
        if not low <= high:
            raise ValueError(f"population.{key}: expected [low, high] with low <= high, got [{low:g}, {high:g}]")
    problem = rate_curve_problem(config.max_rates_hz, config.tau_rc_s, config.tau_ref_s)
    if problem:
        raise ValueError(f"population.{problem[0]}: {problem[1]}")


def ensemble_parameters(config: PopulationCodingConfig) -> dict[str, object]:
    """The `NetworkDescription.ensemble` keyword arguments of these populations (but for the radius)."""
    return dict(max_rates_hz=config.max_rates_hz, intercepts=config.intercepts, tau_rc_s=config.tau_rc_s,
                tau_ref_s=config.tau_ref_s, tau_readout_s=config.tau_readout_s)


def timesteps_per_tick(config: PopulationCodingConfig, control_period_s: float) -> int:
    """Network timesteps per control tick: the control period over `substep_s`, rounded (at least 1)."""
    return max(1, int(round(control_period_s / config.substep_s)))


class StatePopulations:
    """x -> LIF populations -> decoded x_hat, one kernel call per control tick of `control_period_s`."""

    def __init__(self, config: PopulationCodingConfig, n_states: int, control_period_s: float) -> None:
        self.high = check_radii(config, n_states)
        self.low = -self.high
        self.timesteps_per_tick = timesteps_per_tick(config, control_period_s)
        description = NetworkDescription()
        for i, radius in enumerate(config.radii):
            ensemble = description.ensemble(config.neurons_per_dimension, 1, radius=radius, label=f"state[{i}]",
                                            **ensemble_parameters(config))
            description.input(ensemble)
            description.output(ensemble)
        self.network = SpikingNetwork(build(description, control_period_s / self.timesteps_per_tick,
                                            config.seed))
        self.last_good = np.zeros(n_states)
        self.sensor = np.zeros(n_states)
        self.flagged_readings = 0

    @property
    def activity(self) -> np.ndarray:
        """Counts of the last tick; each spike is one synaptic event onto the decoding readout."""
        return self.network.activity

    def reset(self, seed: int) -> None:
        self.network.reset(seed)
        self.last_good[:] = 0.0
        self.flagged_readings = 0

    def encode(self, observation: np.ndarray) -> np.ndarray:
        """x_hat after one control tick of spiking (a reused array)."""
        self.flagged_readings += sanitize(observation, self.low, self.high, self.last_good, self.sensor)
        x_hat = self.network.step(self.sensor, self.timesteps_per_tick)
        self.network.activity[SYNAPTIC_EVENTS] = self.network.activity[SPIKES]
        return x_hat
