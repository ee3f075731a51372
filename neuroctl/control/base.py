"""The interface every controller shares, spiking or not.

A controller maps an observation to an action once per control tick. It is built from its config and
the environment's linear model, so that a benchmark is only a change of config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from neuroctl.activity import ACTIVITY_FIELDS, DENSE_MACS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS

__all__ = ["ACTIVITY_FIELDS", "DENSE_MACS", "NEURON_UPDATES", "SPIKES", "SYNAPTIC_EVENTS", "Controller",
           "LinearModel"]


@dataclass(frozen=True)
class LinearModel:
    """Discrete linear model x[k+1] = A x[k] + B u[k] about an equilibrium (x = 0, u = 0).

    `u` is in the environment's action units; `u_low`/`u_high` are the actuator bounds in those units;
    `dt` is the control period in seconds.
    """

    A: np.ndarray
    B: np.ndarray
    dt: float
    u_low: np.ndarray
    u_high: np.ndarray

    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]


class Controller(ABC):
    """Observation -> action, one call per control tick.

    `activity` holds the counts of the last tick, indexed by SPIKES, SYNAPTIC_EVENTS, NEURON_UPDATES and
    DENSE_MACS (the multiply-accumulates a dense, non-spiking evaluation of the same computation needs).
    Non-spiking controllers count their multiply-accumulates as DENSE_MACS and leave the rest at zero.
    """

    activity: np.ndarray

    def __init__(self) -> None:
        self.activity = np.zeros(len(ACTIVITY_FIELDS), dtype=np.int64)

    @abstractmethod
    def reset(self, seed: int) -> None:
        """Forget all state; network noise and sampling draw from `seed`."""

    @abstractmethod
    def act(self, observation: np.ndarray) -> np.ndarray:
        """Return the action for this tick: finite, within the actuator bounds, in action units."""

    def warmup(self) -> None:
        """Compile and run the kernels once so that the first real tick pays no compile time."""
        self.reset(0)
        self.act(np.zeros(self.observation_size))
        self.reset(0)

    @property
    @abstractmethod
    def observation_size(self) -> int:
        """Length of the observation vector `act` expects."""
