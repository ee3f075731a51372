"""A random recurrent LIF network: the workload of the simulator benchmarks (Nengo, Brian2, neuroctl)."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from neuroctl.network.description import NetworkDescription

_ROWS_PER_CHUNK = 1_000_000  # pairs drawn at once: bounds the temporary memory for large networks


def random_weights(
    n_post: int, n_pre: int, connectivity: float, weight_std: float, rng: np.random.Generator
) -> scipy.sparse.csr_array:
    """(post, pre) weights: each pair connected with probability `connectivity`, weights N(0, weight_std^2)."""
    if not 0.0 < connectivity <= 1.0:
        raise ValueError(f"connectivity must be in (0, 1], got {connectivity!r}")
    rows_per_chunk = max(1, _ROWS_PER_CHUNK // n_pre)
    chunks = []
    for start in range(0, n_post, rows_per_chunk):
        rows, columns = np.nonzero(rng.random((min(rows_per_chunk, n_post - start), n_pre)) < connectivity)
        chunks.append((rows + start, columns))
    rows = np.concatenate([c[0] for c in chunks])
    columns = np.concatenate([c[1] for c in chunks])
    weights = rng.normal(0.0, weight_std, rows.size)
    return scipy.sparse.csr_array((weights, (rows, columns)), shape=(n_post, n_pre))


def random_recurrent_network(
    n_neurons: int,
    connectivity: float = 0.1,
    weight_std: float | None = None,
    seed: int = 0,
    intercepts: tuple[float, float] = (-0.3, 0.9),
    tau_rc_s: float = 0.02,
    tau_ref_s: float = 0.002,
    tau_syn_s: float = 0.005,
) -> NetworkDescription:
    """One population of `n_neurons` LIF neurons, recurrently connected at random, no inputs or outputs.

    Tuning: max rates 200-400 Hz and `intercepts` as given; with no input, the neurons whose intercept
    is below 0 fire at the rate of their bias current: with the default intercepts a quarter of them,
    a mean rate of about 20 Hz. The default weight_std, 0.002 / sqrt(connectivity * n_neurons / 100),
    keeps the recurrent current's fluctuations a small fraction of the threshold at any size, so the
    activity stays near the bias-driven rates.
    """
    if weight_std is None:
        weight_std = 0.002 / np.sqrt(connectivity * n_neurons / 100.0)
    description = NetworkDescription()
    population = description.ensemble(
        n_neurons, 1, intercepts=intercepts, tau_rc_s=tau_rc_s, tau_ref_s=tau_ref_s, tau_syn_s=tau_syn_s,
        label="recurrent",
    )
    weights = random_weights(n_neurons, n_neurons, connectivity, weight_std, np.random.default_rng(seed))
    description.connect_neurons(population, population, weights)
    return description
