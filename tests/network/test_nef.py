"""NEF representation and connections, decoded from the readout traces of simulated spiking ensembles."""

import numpy as np
import pytest

from neuroctl.network import NetworkDescription, SpikingNetwork, build

DT_S = 0.001
SETTLE_S, MEASURE_S = 0.2, 0.5


def decoded(description: NetworkDescription, x: float) -> np.ndarray:
    """Decoded output, sampled every substep for MEASURE_S after SETTLE_S of constant input x."""
    network = SpikingNetwork(build(description, DT_S, seed=0))
    network.reset(seed=1)
    inputs = np.array([x])
    network.step(inputs, round(SETTLE_S / DT_S))
    return np.array([network.step(inputs, 1)[0] for _ in range(round(MEASURE_S / DT_S))])


@pytest.mark.parametrize("x", [-1.0, -0.6, -0.2, 0.0, 0.3, 0.7, 1.0])
def test_ensemble_represents_a_constant(x):
    """100 neurons, readout tau 10 ms: mean error <= 0.03 (1.5% of the range), RMS error <= 0.04."""
    description = NetworkDescription()
    ensemble = description.ensemble(100, 1)
    description.input(ensemble)
    description.output(ensemble)
    y = decoded(description, x)
    assert abs(y.mean() - x) <= 0.03
    assert np.sqrt(np.mean((y - x) ** 2)) <= 0.04


@pytest.mark.parametrize("x", [-0.9, -0.4, 0.0, 0.5, 0.9])
@pytest.mark.parametrize(
    ("function", "transform", "post_radius", "target"),
    [(lambda v: v**2, None, 1.0, lambda v: v**2), (None, [[2.0]], 2.0, lambda v: 2.0 * v)],
    ids=["square", "double"],
)
def test_connection_computes_a_function(x, function, transform, post_radius, target):
    """100 -> 100 neurons through full NEF weights: mean decoded error <= 0.05."""
    description = NetworkDescription()
    pre = description.ensemble(100, 1)
    post = description.ensemble(100, 1, radius=post_radius)
    description.input(pre)
    description.connect(pre, post, function=function, transform=transform)
    description.output(post)
    assert abs(decoded(description, x).mean() - target(x)) <= 0.05
