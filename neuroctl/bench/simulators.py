"""What the kernel benchmark needs of a simulator, and the two that run neuroctl's own network objects.

A simulator is started on a `KernelWorkload` (build, compile, warm-up, firing rate counted over
`rate_steps`), then `run()` is called once per round: it simulates `steps` steps and returns the
seconds per step by the simulator's own loop time. A peer that cannot run here raises `Unavailable`
with the exact reason, and the suite reports it.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from neuroctl.bench.workload import KernelWorkload
from neuroctl.control.base import SPIKES
from neuroctl.network import SpikingNetwork
from neuroctl.network.arrays import VOLTAGE
from neuroctl.network.reference import ReferenceNetwork


class Unavailable(Exception):
    """A simulator that cannot run here; the message says exactly why."""


class Simulator(Protocol):
    label: str  # row name, e.g. "neuroctl", "brian2 cpp_standalone"
    peer: str  # neuroctl, nengo, brian2 or numpy
    target: str  # how it runs
    build_s: float
    compile_s: float | None  # None: nothing is compiled
    rate_hz: float  # mean firing rate it measured over rate_steps after the warm-up

    def run(self) -> float: ...

    def close(self) -> None: ...


class InProcessNetwork:
    """neuroctl's kernel (`SpikingNetwork`) or its plain numpy reference (`ReferenceNetwork`, dense
    matrices), stepping `steps` steps in one call."""

    def __init__(self, workload: KernelWorkload, network_class: type[SpikingNetwork], label: str,
                 target: str, compiled: bool) -> None:
        self.label, self.peer, self.target = label, label, target
        self.steps = workload.counts.steps
        started = time.perf_counter()
        self.network = network_class(workload.built)
        self.build_s = workload.build_s + time.perf_counter() - started
        self._x = np.zeros(0)
        started = time.perf_counter()
        self.network.step(self._x, 1)
        self.compile_s = time.perf_counter() - started if compiled else None
        self.network.reset()
        self.network.state[VOLTAGE] = workload.v0
        self.network.step(self._x, workload.counts.warmup_steps)
        self.network.step(self._x, workload.counts.rate_steps)
        spikes = self.network.activity[SPIKES]
        self.rate_hz = float(spikes) / (workload.neurons * workload.counts.rate_steps * workload.model.dt_s)

    def run(self) -> float:
        started = time.perf_counter()
        self.network.step(self._x, self.steps)
        return (time.perf_counter() - started) / self.steps

    def close(self) -> None:
        del self.network


def start_neuroctl(workload: KernelWorkload) -> InProcessNetwork:
    return InProcessNetwork(workload, SpikingNetwork, "neuroctl", "numba kernel, event-driven CSR, "
                            "all steps in one call", compiled=True)


def start_numpy(workload: KernelWorkload) -> InProcessNetwork:
    return InProcessNetwork(workload, ReferenceNetwork, "numpy", "neuroctl's numpy reference: dense "
                            "matrices, vectorised over neurons", compiled=False)
