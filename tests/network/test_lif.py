"""LIF neurons: simulated rates against the analytic rate curve; NEF gain and bias."""

import numpy as np
import pytest

from neuroctl.network import NetworkDescription, SpikingNetwork, build, gain_bias, lif_rate
from neuroctl.network.arrays import BIAS

CURRENTS = np.array([0.9, 1.05, 1.5, 2.0, 5.0, 10.0, 30.0])
TAU_RC_S, TAU_REF_S = 0.02, 0.002


def simulated_rates(currents: np.ndarray, dt_s: float, duration_s: float) -> np.ndarray:
    """Rates in Hz of neurons driven by constant `currents` (set as their bias), from rest."""
    description = NetworkDescription()
    description.ensemble(currents.size, 1, tau_rc_s=TAU_RC_S, tau_ref_s=TAU_REF_S)
    built = build(description, dt_s)
    built.neuron_params[BIAS] = currents  # constant input current, nothing else
    network = SpikingNetwork(built)
    n_substeps = round(duration_s / dt_s)
    raster = network.new_raster(n_substeps)
    network.step(np.zeros(0), n_substeps, raster)
    return raster.sum(axis=0) / duration_s


@pytest.mark.parametrize("dt_s", [0.001, 0.0001])
def test_rates_match_the_analytic_curve(dt_s):
    """Within 2% (the count over 10 s is off by at most one spike: 1/(r T) <= 0.3% here)."""
    rates = simulated_rates(CURRENTS, dt_s, duration_s=10.0)
    expected = lif_rate(CURRENTS, TAU_RC_S, TAU_REF_S)
    assert rates[0] == 0.0 and expected[0] == 0.0  # below threshold: silent
    np.testing.assert_allclose(rates[1:], expected[1:], rtol=0.02)
    np.testing.assert_allclose(rates[1:], expected[1:], atol=1.0 / 10.0 + 1e-9)  # one spike in 10 s


def test_analytic_rates():
    np.testing.assert_allclose(lif_rate(np.array([2.0]), 0.02, 0.002), [1.0 / (0.002 + 0.02 * np.log(2.0))])
    assert lif_rate(np.array([1.0, 0.0, -5.0]), 0.02, 0.002).tolist() == [0.0, 0.0, 0.0]


def test_gain_bias_puts_threshold_at_intercept_and_max_rate_at_one():
    max_rates = np.array([50.0, 200.0, 400.0])
    intercepts = np.array([-0.5, 0.0, 0.8])
    gain, bias = gain_bias(max_rates, intercepts, TAU_RC_S, TAU_REF_S)
    np.testing.assert_allclose(gain * intercepts + bias, 1.0)
    np.testing.assert_allclose(lif_rate(gain + bias, TAU_RC_S, TAU_REF_S), max_rates, rtol=1e-12)
