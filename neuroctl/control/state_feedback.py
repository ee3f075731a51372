"""Spiking state feedback: LIF populations represent the state, and u = clip(u_op - K (x_hat - x_ref)).

For every state dimension i, the sensor value x_i (clamped to its radius, a non-finite reading held at
the last good value and counted) drives an encoder population of LIF neurons as current (NEF population
coding); the encoder population's spikes reach a state population through exponential synapses (an NEF
identity connection), and x_hat_i is decoded from the state population's filtered spikes. K is the
discrete LQR gain of the environment's linear model. The whole network runs in one kernel call per tick,
which also fills `spike_raster` (uint8 (substeps per tick, neurons), 1 where a neuron spiked); in the
loop's compiled tick, sensing, the network and the decoded feedback are one call (`compiled_arrays`).

This is the simple spiking baseline. Its accuracy is limited by spike noise, which falls like
1/sqrt(n tau_readout): a few cm of cart offset and some force jitter remain where exact LQR settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba.experimental import structref
from numba.extending import overload_method

from neuroctl.config import range_field
from neuroctl.control.base import NO_PLAN, NO_PREDICTION, CompiledArraysType, Controller, LinearModel
from neuroctl.control.linear import dlqr
from neuroctl.control.lqr import check_observation_size, weight_matrices
from neuroctl.control.population import (PopulationCodingConfig, check_radii, ensemble_parameters,
                                         timesteps_per_tick)
from neuroctl.encoding import sanitize
from neuroctl.network import NetworkDescription, SpikingNetwork, build
from neuroctl.network.jit import cached_njit
from neuroctl.network.kernel import run_substeps
from neuroctl.network.linalg import matvec_into


@dataclass(frozen=True)
class SpikingStateFeedbackConfig:
    """LQR weights (as for `lqr`), the LIF populations that carry the state, and the synapse between
    the encoder and the state populations."""

    q: tuple[float, ...] = range_field((1.0, 10.0, 0.1, 0.1), min=0.0, doc="diagonal of Q, per state")
    r: tuple[float, ...] = range_field((1.0,), min=0.0, min_exclusive=True, doc="diagonal of R, per action")
    population: PopulationCodingConfig = field(
        default_factory=lambda: PopulationCodingConfig(neurons_per_dimension=100, tau_readout_s=0.015))
    tau_syn_s: float = range_field(0.005, min=0.0, min_exclusive=True, max=1.0,
                                   doc="synapse from encoder to state population")


class SpikingStateFeedbackController(Controller):
    """u = clip(-K x_hat), x_hat decoded from LIF state populations fed by LIF encoder populations."""

    def __init__(self, config: SpikingStateFeedbackConfig, model: LinearModel, observation_size: int) -> None:
        super().__init__()
        self.config = config
        self.model = model
        if model.C is not None:
            raise ValueError("model: spiking state feedback represents the state itself; a model with an "
                             "output map C is not supported")
        self._observation_size = check_observation_size(model, observation_size)
        self.K, _ = dlqr(model, *weight_matrices(config.q, config.r, model))
        self.sensor_high = check_radii(config.population, model.n_states)
        self.sensor_low = -self.sensor_high
        self.timesteps_per_tick = timesteps_per_tick(config.population, model.dt)
        description = self._describe()
        self.network = SpikingNetwork(build(description, model.dt / self.timesteps_per_tick,
                                            config.population.seed))
        self.spike_raster = self.network.new_raster(self.timesteps_per_tick)
        # (label, first neuron, end neuron) of each population, in the raster's column order
        self.spike_raster_groups = tuple(
            (ensemble.label, built.neurons.start, built.neurons.stop)
            for ensemble, built in zip(description.ensembles, self.network.built.ensembles)
        )
        self.last_good = np.zeros(model.n_states)
        self.sensor = np.zeros(model.n_states)
        self.x_hat = np.zeros(model.n_states)
        self._flagged = np.zeros(1, dtype=np.int64)  # an array, so that the compiled tick counts too
        self._action = np.zeros(model.n_inputs)
        self._error = np.zeros(model.n_states)
        if self.network.built.n_learned == 0:  # the compiled step runs the kernel without learning
            # the network's kernel arguments between (x, n_substeps) and raster, as its `step` passes them
            # (private to SpikingNetwork: its output and activity arrays are the last two)
            arguments = self.network._arguments
            self._compiled = new_state_feedback_arrays(
                self.sensor_low, self.sensor_high, self.last_good, self.sensor, self._flagged,
                arguments, arguments[-1], arguments[-2],
                int(self.timesteps_per_tick), self.x_hat, self.K, self._error, model.u_op, model.u_low,
                model.u_high, self._action, self.activity, NO_PREDICTION, NO_PLAN, self.spike_raster)

    def _describe(self) -> NetworkDescription:
        population = self.config.population
        parameters = dict(ensemble_parameters(population), tau_syn_s=self.config.tau_syn_s)
        n = population.neurons_per_dimension
        description = NetworkDescription()
        for i, radius in enumerate(population.radii):
            encoder = description.ensemble(n, 1, radius=radius, label=f"encoder[{i}]", **parameters)
            state = description.ensemble(n, 1, radius=radius, label=f"state[{i}]", **parameters)
            description.input(encoder)
            description.connect(encoder, state)
            description.output(state)
        return description

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def flagged_readings(self) -> int:
        """Non-finite readings held at their last good value since the last reset."""
        return int(self._flagged[0])

    def reset(self, seed: int) -> None:
        self.network.reset(seed)
        self.last_good[:] = 0.0
        self.x_hat[:] = 0.0
        self._flagged[0] = 0
        self.activity[:] = 0
        self.spike_raster[:] = 0

    def act(self, observation: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Returns a reused array: copy it to keep it past the next tick. The populations represent the
        observation (the model state); the reference (None: zero) is subtracted from the decoded state."""
        self._flagged[0] += sanitize(observation, self.sensor_low, self.sensor_high, self.last_good, self.sensor)
        self.x_hat[:] = self.network.step(self.sensor, self.timesteps_per_tick, self.spike_raster)
        self.activity[:] = self.network.activity
        if reference is not None:
            np.subtract(self.x_hat, reference, out=self._error)
            matvec_into(self.K, self._error, self._action)
        else:
            matvec_into(self.K, self.x_hat, self._action)
        np.negative(self._action, out=self._action)
        self._action += self.model.u_op
        np.clip(self._action, self.model.u_low, self.model.u_high, out=self._action)
        return self._action

    compiled_act = act


@structref.register
class StateFeedbackArraysType(CompiledArraysType):
    """A `SpikingStateFeedbackController`'s arrays for the compiled tick (`CompiledArraysType`)."""


class StateFeedbackArrays(structref.StructRefProxy):
    pass


structref.define_proxy(StateFeedbackArrays, StateFeedbackArraysType, [
    "sensor_low", "sensor_high", "last_good", "sensor", "flagged", "network_arguments", "network_activity",
    "network_output", "substeps", "x_hat", "gain", "error", "u_op", "u_low", "u_high", "action", "activity",
    "predicted_states", "plan", "raster"])


@cached_njit
def new_state_feedback_arrays(*fields):
    """The `StateFeedbackArrays` of these fields (a compiled constructor: numba's proxy compiles on every run)."""
    return StateFeedbackArrays(*fields)


@overload_method(StateFeedbackArraysType, "step")
def _state_feedback_step(arrays, observation, reference):
    def step(arrays, observation, reference):
        """`SpikingStateFeedbackController.act` for a float64 observation and reference."""
        arrays.flagged[0] += sanitize(observation, arrays.sensor_low, arrays.sensor_high, arrays.last_good,
                                      arrays.sensor)
        arrays.network_activity[:] = 0
        run_substeps(arrays.sensor, arrays.substeps, *arrays.network_arguments, arrays.raster)
        arrays.x_hat[:] = arrays.network_output
        arrays.activity[:] = arrays.network_activity
        for i in range(arrays.error.shape[0]):
            arrays.error[i] = arrays.x_hat[i] - reference[i]
        matvec_into(arrays.gain, arrays.error, arrays.action)
        for i in range(arrays.action.shape[0]):
            arrays.action[i] = min(max(-arrays.action[i] + arrays.u_op[i], arrays.u_low[i]), arrays.u_high[i])
    return step
