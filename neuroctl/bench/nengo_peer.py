"""Nengo's reference simulator on the kernel benchmark's network.

The network is one ensemble of LIF neurons with gain 1 and neuroctl's biases (so the same currents
drive the same neurons), initial voltages v0, and a neuron-to-neuron connection
`nengo.Connection(ens.neurons, ens.neurons, transform=W, synapse=Lowpass(tau_syn))` with the same
weights: a `nengo.Sparse` transform (scipy CSR) below full connectivity, a dense one at 100%.
The firing rate is counted on a second, probed copy of the model, so that the timed one has no probe.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse

from neuroctl.bench.simulators import Unavailable
from neuroctl.bench.workload import KernelWorkload


class NengoSimulator:
    peer = "nengo"
    label = "nengo"

    def __init__(self, workload: KernelWorkload) -> None:
        try:
            import nengo
        except ImportError as exc:
            raise Unavailable(f"nengo is not installed in this environment ({exc}); "
                              "pip install -e '.[bench]'") from None
        self._nengo = nengo
        self.workload = workload
        self.sparse = workload.connectivity < 1.0
        self.target = (f"nengo {nengo.__version__} reference simulator, "
                       + ("Sparse transform (scipy CSR)" if self.sparse else "dense transform"))
        self.compile_s = None
        counts = workload.counts
        with self._simulator(probe=True) as probed:
            probed.run_steps(counts.warmup_steps + counts.rate_steps)
            spikes = probed.data[self._probe][counts.warmup_steps:]
            self.rate_hz = float(np.count_nonzero(spikes)) / (
                workload.neurons * counts.rate_steps * workload.model.dt_s)
        started = time.perf_counter()
        self.simulator = self._simulator(probe=False)
        self.build_s = time.perf_counter() - started
        self.simulator.run_steps(counts.warmup_steps)

    def _simulator(self, probe: bool):
        nengo, workload, model = self._nengo, self.workload, self.workload.model
        n = workload.neurons
        transform = (nengo.Sparse((n, n), init=scipy.sparse.csr_matrix(workload.weights)) if self.sparse
                     else workload.weights.toarray())
        with nengo.Network(seed=0) as network:
            neuron_type = nengo.LIF(tau_rc=model.tau_rc_s, tau_ref=model.tau_ref_s,
                                    initial_state={"voltage": workload.v0})
            ensemble = nengo.Ensemble(n, 1, neuron_type=neuron_type, gain=np.ones(n), bias=workload.bias)
            nengo.Connection(ensemble.neurons, ensemble.neurons, transform=transform,
                             synapse=nengo.Lowpass(model.tau_syn_s))
            if probe:
                self._probe = nengo.Probe(ensemble.neurons)
        with warnings.catch_warnings():  # gain 1 makes Nengo warn about the max rates it cannot infer
            warnings.simplefilter("ignore")
            return nengo.Simulator(network, dt=model.dt_s, progress_bar=False)

    def run(self) -> float:
        steps = self.workload.counts.steps
        started = time.perf_counter()
        self.simulator.run_steps(steps)
        return (time.perf_counter() - started) / steps

    def close(self) -> None:
        self.simulator.close()
