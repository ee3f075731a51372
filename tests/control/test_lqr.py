"""ZOH discretisation, the discrete LQR and the clipped-LQR controller."""

import numpy as np
import pytest
import scipy.signal

from neuroctl.control.base import DENSE_MACS
from neuroctl.control.linear import cartpole_approximation, discretize_zoh, dlqr, random_model
from neuroctl.control.lqr import LQRConfig, LQRController

Q_CARTPOLE = np.diag([1.0, 10.0, 0.1, 0.1])  # the config defaults
R_CARTPOLE = np.array([[1.0]])


def test_zoh_matches_scipy_cont2discrete():
    rng = np.random.default_rng(0)
    a_c, b_c = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    a, b = discretize_zoh(a_c, b_c, 0.05)
    a_ref, b_ref, *_ = scipy.signal.cont2discrete((a_c, b_c, np.eye(3), np.zeros((3, 2))), 0.05, method="zoh")
    np.testing.assert_allclose(a, a_ref, atol=1e-13)
    np.testing.assert_allclose(b, b_ref, atol=1e-13)


def test_cartpole_approximation_has_the_unstable_pole_and_action_units():
    model = cartpole_approximation(dt=0.01, max_force_n=6.0)
    fastest = np.max(np.abs(np.linalg.eigvals(model.A)))
    assert np.log(fastest) / 0.01 == pytest.approx(np.sqrt(15.78), rel=1e-9)  # 3.97 rad/s
    np.testing.assert_allclose(model.B[2:, 0] / 0.01, [0.97 * 6.0, -1.46 * 6.0], rtol=0.02)


def _finite_horizon_gain(model, q, r, steps):
    """First-move gain of the N-step LQR with terminal weight Q, by the backward Riccati recursion."""
    a, b, p = model.A, model.B, q
    for _ in range(steps):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = q + a.T @ p @ (a - b @ k)
    return k, p


@pytest.mark.parametrize(
    "model, q, r",
    [
        (cartpole_approximation(), Q_CARTPOLE, R_CARTPOLE),
        (random_model(1, 3, 2, spectral_radius=1.05), np.eye(3), np.diag([0.5, 2.0])),
    ],
)
def test_dlqr_is_the_converged_finite_horizon_lqr(model, q, r):
    k, p = dlqr(model, q, r)
    k_long, p_long = _finite_horizon_gain(model, q, r, steps=3000)
    np.testing.assert_allclose(k, k_long, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(p, p_long, rtol=1e-8)
    assert np.max(np.abs(np.linalg.eigvals(model.A - model.B @ k))) < 1.0


def test_lqr_controller_is_clipped_state_feedback():
    model = cartpole_approximation()
    controller = LQRController(LQRConfig(), model, observation_size=4)
    k, _ = dlqr(model, Q_CARTPOLE, R_CARTPOLE)
    controller.reset(0)
    small = np.array([0.01, 0.02, 0.0, -0.01])
    np.testing.assert_allclose(controller.act(small), -k @ small, atol=1e-15)
    assert controller.activity[DENSE_MACS] == 4
    np.testing.assert_array_equal(controller.act(np.array([0.0, 1.0, 0.0, 0.0])), [1.0])  # saturated


def test_weights_must_match_the_model():
    with pytest.raises(ValueError, match="q: expected 4 weights"):
        LQRController(LQRConfig(q=(1.0, 1.0)), cartpole_approximation(), 4)
    with pytest.raises(ValueError, match="r: weights must be finite and > 0"):
        LQRController(LQRConfig(r=(0.0,)), cartpole_approximation(), 4)
    with pytest.raises(ValueError, match="observation_size"):
        LQRController(LQRConfig(), cartpole_approximation(), 5)
