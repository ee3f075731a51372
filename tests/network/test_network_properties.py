"""Properties of the kernel over random inputs (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neuroctl.network import SpikingNetwork, build

MIXED_INPUT_SIZE = 5
FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@pytest.fixture(scope="module")
def built(make_mixed):
    built = build(make_mixed(), 0.001, seed=0)
    assert built.input_size == MIXED_INPUT_SIZE
    return built


@settings(max_examples=60, deadline=None)
@given(
    inputs=arrays(np.float64, (4, MIXED_INPUT_SIZE), elements=FINITE),
    n_substeps=st.integers(1, 30),
    seed=st.integers(0, 3),
)
def test_finite_inputs_give_finite_outputs_and_states(built, inputs, n_substeps, seed):
    network = SpikingNetwork(built)
    network.reset(seed)
    for x in inputs:
        y = network.step(x, n_substeps)
        assert np.all(np.isfinite(y))
    assert np.all(np.isfinite(network.state))
    assert np.all((network.state[0] >= 0.0) & (network.state[0] <= 1.0))  # voltages stay in [0, 1]
    assert np.all(network.state[1] >= 0.0)  # refractory time left


def test_wrong_input_size_is_rejected(built):
    with pytest.raises(ValueError, match="shape"):
        SpikingNetwork(built).step(np.zeros(MIXED_INPUT_SIZE + 1))
