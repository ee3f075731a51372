"""Controller configs that validate key by key but cannot be built: exit code 2 and one line naming the key
at fault and what is expected (no traceback, no scipy/numpy warnings, no 'Singular matrix')."""

import gymnasium
import numpy as np
import pytest

from neuroctl.cli import main
from neuroctl.config import ConfigError
from neuroctl.control.linear import cartpole_approximation, dlqr
from neuroctl.control.registry import build_controller, load_controller_config

LAUNCH = ("env:\n  id: neuroctl/CartPoleBalance-v0\n  kwargs: {}\ncontroller: c.yaml\nrun: {duration_s: 0.1}\n"
          "outputs: {plots: false}\n")
SSF, MPC_POP = "kind: spiking_state_feedback\n", "kind: mpc_spiking\nstate_input: population\n"
RIDGE = "expected q and r entries within a few orders of magnitude of each other"
FLAT = "(below it the LIF rate curve is flat to rounding and no decoders exist)"

CASES = {  # controller config -> the message after "error: <tmp>/c.yaml: "
    "tiny tau_rc": (SSF + "population: {tau_rc_s: 1.0e-9}\n",
                    f"population.tau_rc_s: expected >= 0.000579 s for max_rates_hz[0] = 100 Hz and tau_ref_s = 0.002 s "
                    f"{FLAT}, got 1e-09"),
    "tau_rc at slow rates": (SSF + "population: {tau_rc_s: 0.0005, max_rates_hz: [50, 100]}\n",
                             f"population.tau_rc_s: expected >= 0.0013 s for max_rates_hz[0] = 50 Hz and tau_ref_s = "
                             f"0.002 s {FLAT}, got 0.0005"),
    "tiny tau_rc, mpc populations": (MPC_POP + "population: {tau_rc_s: 1.0e-6}\n",
                                     f"population.tau_rc_s: expected >= 0.000579 s for max_rates_hz[0] = 100 Hz and "
                                     f"tau_ref_s = 0.002 s {FLAT}, got 1e-06"),
    "tau_ref above 1/max rate": (SSF + "population: {tau_ref_s: 0.02}\n",
                                 "population.tau_ref_s: expected < 1/max_rates_hz[1] = 0.005 s (a LIF neuron fires "
                                 "at most 1/tau_ref_s), got 0.02"),
    "tau_ref at 1/max rate, mpc": (MPC_POP + "population: {tau_ref_s: 0.005}\n",
                                   "population.tau_ref_s: expected < 1/max_rates_hz[1] = 0.005 s (a LIF neuron fires "
                                   "at most 1/tau_ref_s), got 0.005"),
    "max rates reversed": (SSF + "population: {max_rates_hz: [200, 100]}\n",
                           "population.max_rates_hz: expected [low, high] with low <= high, got [200, 100]"),
    "intercepts reversed, mpc": (MPC_POP + "population: {intercepts: [0.5, -0.5]}\n",
                                 "population.intercepts: expected [low, high] with low <= high, got [0.5, -0.5]"),
    "intercept above the config's limit": (SSF + "population: {intercepts: [0.0, 0.995]}\n",
                                           "population.intercepts[1]: expected a value <= 0.99, got 0.995"),
    "huge r, lqr": ("kind: lqr\nr: [1.0e300]\n", f"q, r: the LQR Riccati equation has no finite solution for this "
                    f"model with these weights; {RIDGE}"),
    "huge q, exact mpc": ("kind: mpc_exact\nq: [1.0e300, 1.0e300, 1.0e300, 1.0e300]\n",
                          f"q, r: the LQR Riccati equation has no finite solution for this model with these weights; "
                          f"{RIDGE}"),
    "huge r, spiking state feedback": (SSF + "r: [1.0e300]\n", f"q, r: the LQR Riccati equation has no finite "
                                       f"solution for this model with these weights; {RIDGE}"),
    "huge q, dense mpc": ("kind: mpc_dense\nq: [1.0e300, 1.0, 1.0, 1.0]\n", "q, r: the LQR Riccati equation has no "
                          f"finite solution for this model with these weights; {RIDGE}"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unbuildable_controller_ends_with_one_line_and_exit_2(tmp_path, capsys, name):
    controller, expected = CASES[name]
    (tmp_path / "launch.yaml").write_text(LAUNCH)
    (tmp_path / "c.yaml").write_text(controller)
    with _no_warnings():
        code = main(["launch", str(tmp_path / "launch.yaml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: {tmp_path}/c.yaml: {expected}\n"
    assert not (tmp_path / "out").exists()


class _no_warnings:
    """Fail if any warning is issued inside (they would be printed before the error line)."""

    def __enter__(self):
        import warnings
        self._catcher = warnings.catch_warnings(record=True)
        self.caught = self._catcher.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catcher.__exit__(*exc)
        assert not self.caught, [str(w.message) for w in self.caught]


def _model_config(tmp_path, kind, b):
    path = tmp_path / "c.yaml"
    path.write_text(f"kind: {kind}\nq: [1, 1]\nr: [1]\nmodel: {{A: [[1.0, 0.01], [0.0, 1.05]], B: {b}, dt_s: 0.01}}\n")
    return path


@pytest.mark.parametrize("kind", ["lqr", "mpc_exact", "mpc_dense", "mpc_spiking"])
@pytest.mark.parametrize("b, eigenvalue", [("[[0.0], [0.0]]", "1"), ("[[1.0], [0.0]]", "1.05")])
def test_uncontrollable_model_section_names_the_model(tmp_path, kind, b, eigenvalue):
    """B = 0, or B that moves only the stable-ish integrator and not the unstable mode at 1.05."""
    from neuroctl.wrappers import ControllerPolicy

    path = _model_config(tmp_path, kind, b)
    env = gymnasium.make("Pendulum-v1")
    try:
        with _no_warnings(), pytest.raises(ConfigError) as caught:
            ControllerPolicy(env, path, state_of=lambda observation: observation[:2])
    finally:
        env.close()
    assert str(caught.value) == (f"{path}: model: the linear model is not stabilisable: its mode at eigenvalue "
                                 f"{eigenvalue} (|lambda| >= 1) is not moved by the actions (B); no LQR or MPC "
                                 f"weights can control it")


def test_stabilisable_models_still_build():
    """An integrator left out of the cost (q = 0) and the cart-pole: finite gains, closed loop stable."""
    model = cartpole_approximation()
    k, p = dlqr(model, np.diag([1.0, 10.0, 0.1, 0.1]), np.eye(1))
    assert np.max(np.abs(np.linalg.eigvals(model.A - model.B @ k))) < 1.0
    k, _ = dlqr(model, np.zeros((4, 4)), np.eye(1))
    assert np.all(np.isfinite(k))


def test_build_controller_names_the_config_path(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("kind: lqr\nr: [1.0e300]\n")
    kind, config = load_controller_config(path)
    with pytest.raises(ConfigError) as caught:
        build_controller(kind, config, cartpole_approximation(), 4, path)
    assert caught.value.where == str(path) and caught.value.key == "q, r"
