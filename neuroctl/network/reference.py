"""Plain numpy reference of the network kernel: the same substep, vectorised over neurons, with dense
matrices and no numba. The tests hold `run_substeps` to it (identical spikes, states within 1e-12)."""

from __future__ import annotations

import numpy as np

from neuroctl.activity import (DENSE_MACS, GRADED_SYNAPTIC_EVENTS, NEURON_UPDATES, SPIKES, SYNAPTIC_EVENTS,
                               WEIGHT_UPDATES)
from neuroctl.network.arrays import (
    BIAS,
    PES_ACTIVITY,
    PES_ALPHA,
    PES_DECODERS,
    PES_ENCODERS,
    PES_ERROR,
    PES_OUT_DECAY,
    PES_OUT_INCREMENT,
    PES_POST_COUNT,
    PES_POST_START,
    PES_PRE_COUNT,
    PES_PRE_DECAY,
    PES_PRE_INCREMENT,
    PES_PRE_START,
    PES_ROW,
    PES_SIZE,
    RC_FACTOR,
    REFRACTORY,
    SYN_CURRENT,
    SYN_DECAY,
    TAU_RC,
    TAU_REF,
    TRACE,
    TRACE_DECAY,
    TRACE_INCREMENT,
    VOLTAGE,
    BuiltNetwork,
)
from neuroctl.network.kernel import PES_HELD, PES_HELD_ERRORS, PES_OUTPUT
from neuroctl.network.simulator import SpikingNetwork


def lif_substep_array(
    v: np.ndarray, refractory_s: np.ndarray, current: np.ndarray, dt: float,
    rc_factor: np.ndarray, tau_rc_s: np.ndarray, tau_ref_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One whole LIF substep for arrays of neurons, in one piece (the kernel splits it into
    `neuroctl.network.lif.lif_integrate` and `lif_finish`): (voltage, refractory time left, spiked)."""
    partial = -np.expm1(-np.maximum(dt - refractory_s, 0.0) / tau_rc_s)
    factor = np.where(refractory_s <= 0.0, rc_factor, partial)
    v = np.maximum(v + (current - v) * factor, 0.0)
    spiked = v > 1.0
    refractory_s = np.maximum(refractory_s - dt, 0.0)
    since_crossing_s = -tau_rc_s[spiked] * np.log1p(-(v[spiked] - 1.0) / (current[spiked] - 1.0))
    refractory_s[spiked] = tau_ref_s[spiked] - since_crossing_s
    v[spiked] = 0.0
    return v, refractory_s, spiked


class ReferenceNetwork(SpikingNetwork):
    """`SpikingNetwork` with the kernel replaced by numpy; for tests and small networks only (dense n x n)."""

    def __init__(self, built: BuiltNetwork) -> None:
        super().__init__(built)
        self._synapses = built.synapse_matrix().toarray()  # (pre, post)
        self._fan_out = np.count_nonzero(self._synapses, axis=1)
        self._inputs = built.input_matrix().toarray()
        self._decoders = built.decoder_matrix().toarray()
        # per decoded connection: (pre neurons, post neurons, its decoders, its encoders, its value, its parameters)
        self._factored = _decoded(built.fac_index, built.fac_params, built.fac_decoders, built.fac_encoders,
                                  self.fac_values)
        # per learned output or connection: the same, then (y rows or None, error slice, activities view)
        learned = _decoded(built.pes_index, built.pes_params, self.decoders, built.pes_encoders,
                           self.pes_signals[PES_OUTPUT])
        self._pes = []
        for connection, index in zip(learned, built.pes_index):
            row, size, err, act = (int(index[c]) for c in (PES_ROW, PES_SIZE, PES_ERROR, PES_ACTIVITY))
            rows = slice(row, row + size) if row >= 0 else None
            activity = self.pes_activity[act : act + int(index[PES_PRE_COUNT])]
            self._pes.append((*connection, rows, slice(err, err + size), activity))

    def _run(self, x: np.ndarray, n_substeps: int, raster: np.ndarray) -> None:
        p, s, dt = self.built.neuron_params, self.state, self.built.dt_s
        base = p[BIAS] + self._inputs @ x
        held = self.pes_signals[PES_HELD]
        finite = np.isfinite(self.error)
        held[finite] = self.error[finite]
        self.pes_counts[PES_HELD_ERRORS] += np.count_nonzero(~finite)
        connections = [c[:6] for c in self._factored + self._pes]
        for k in range(n_substeps):
            currents = base.copy()
            for _, post, _, encoders, value, _ in connections:  # factored: the encoders' current, column by column
                for o in range(value.size):
                    currents[post] += encoders[:, o] * value[o]
                self.activity[SYNAPTIC_EVENTS] += encoders.size
                self.activity[GRADED_SYNAPTIC_EVENTS] += encoders.size
            v, ref, spiked = lif_substep_array(
                s[VOLTAGE], s[REFRACTORY], currents + s[SYN_CURRENT], dt, p[RC_FACTOR], p[TAU_RC], p[TAU_REF]
            )
            s[VOLTAGE], s[REFRACTORY] = v, ref
            for pre, post, decoders, _, value, q in connections:  # the decoded values take the spikes
                value[:] = value * q[PES_OUT_DECAY] + q[PES_OUT_INCREMENT] * (decoders @ spiked[pre])
                if post.stop > post.start:
                    self.activity[SYNAPTIC_EVENTS] += np.count_nonzero(spiked[pre]) * value.size
            for pre, _, decoders, _, _, q, _, err, activity in self._pes:  # Nengo's PES step (kernel.run_substeps_pes)
                activity[:] = activity * q[PES_PRE_DECAY] + q[PES_PRE_INCREMENT] * spiked[pre]
                if q[PES_ALPHA] != 0.0:
                    decoders += np.outer(q[PES_ALPHA] * held[err], activity)
                    self.activity[WEIGHT_UPDATES] += decoders.size
            s[SYN_CURRENT] = s[SYN_CURRENT] * p[SYN_DECAY] + spiked @ self._synapses
            s[TRACE] = s[TRACE] * p[TRACE_DECAY] + p[TRACE_INCREMENT] * spiked
            if raster.shape[0]:
                raster[k] = spiked
            self.activity[SPIKES] += np.count_nonzero(spiked)
            self.activity[SYNAPTIC_EVENTS] += self._fan_out[spiked].sum()
        self._output[:] = self._decoders @ s[TRACE]
        for *_, value, _, rows, _, _ in self._pes:
            if rows is not None:
                self._output[rows] = value
        self.activity[NEURON_UPDATES] += self.neuron_count * n_substeps
        self.activity[DENSE_MACS] += n_substeps * self.built.dense_macs_per_substep + self.built.dense_macs_per_call


def _decoded(index: np.ndarray, params: np.ndarray, decoders: np.ndarray, encoders: np.ndarray,
             values: np.ndarray) -> list[tuple]:
    """Per decoded connection (columns PES_*): (pre slice, post slice, (d, n_pre) decoders view, (n_post, d)
    encoders, value view, parameter row)."""
    table = []
    for row, q in zip(index, params):
        start, n_pre, size, offset, value = (int(row[c]) for c in (PES_PRE_START, PES_PRE_COUNT, PES_SIZE,
                                                                     PES_DECODERS, PES_ERROR))
        post, n_post, enc = (int(row[c]) for c in (PES_POST_START, PES_POST_COUNT, PES_ENCODERS))
        table.append((slice(start, start + n_pre), slice(post, post + n_post),
                      decoders[offset : offset + size * n_pre].reshape(size, n_pre),
                      encoders[enc : enc + n_post * size].reshape(n_post, size), values[value : value + size], q))
    return table
