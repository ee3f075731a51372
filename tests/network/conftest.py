"""Networks shared by the network tests."""

import numpy as np
import pytest

from neuroctl.network import NetworkDescription, random_recurrent_network


def mixed_network(tau_ref_s: float = 0.002, seed: int = 0, factored: bool | None = None) -> NetworkDescription:
    """Inputs, NEF connections (x0 x1 / 2 and x^2; `factored` as given: None lets the builder choose, and it
    factors both), sparse random recurrent weights and outputs."""
    rng = np.random.default_rng(seed)
    description = NetworkDescription()
    a = description.ensemble(60, 2, radius=(1.0, 2.0), max_rates_hz=(150.0, 300.0), tau_ref_s=tau_ref_s, label="a")
    b = description.ensemble(40, 1, max_rates_hz=(100.0, 200.0), tau_ref_s=tau_ref_s, tau_syn_s=0.01, label="b")
    c = description.ensemble(
        50, 1, max_rates_hz=(200.0, 350.0), intercepts=(-0.5, 0.5), tau_rc_s=0.03, tau_ref_s=tau_ref_s, label="c"
    )
    description.input(a)
    description.input(c, transform=[[0.5, -0.5, 1.0]])
    description.connect(a, b, function=lambda x: x[0] * x[1] / 2.0, factored=factored)
    description.connect(b, c, function=lambda x: x**2, factored=factored)
    weights = rng.normal(0.0, 0.02, (60, 50)) * (rng.random((60, 50)) < 0.1)
    description.connect_neurons(c, a, weights)
    description.output(a)
    description.output(c, transform=[[2.0], [-1.0]])
    return description


@pytest.fixture(scope="session")
def make_mixed():
    """`mixed_network`, the factory."""
    return mixed_network


@pytest.fixture
def recurrent() -> NetworkDescription:
    """300 neurons at 10% connectivity, about 40 Hz."""
    return random_recurrent_network(300, 0.1, seed=3, intercepts=(-0.6, 0.9))
