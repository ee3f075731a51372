"""Shared by the reliability tests: the cart-pole, the two spiking controllers, a PyBullet spy, the CLI."""

import math
import subprocess
import sys
from pathlib import Path

import gymnasium
import pybullet
import pytest

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.envs.bullet_native import native_api
from neuroctl.launchfile import linear_model_of

ROOT = Path(__file__).resolve().parents[2]
ENV_ID = "neuroctl/CartPoleBalance-v0"
SPIKING_CONFIGS = {
    "spiking_state_feedback": ROOT / "configs" / "controllers" / "cartpole_balance.yaml",
    "mpc_spiking": ROOT / "configs" / "controllers" / "cartpole_mpc.yaml",
}
LQR_CONFIG = ROOT / "configs" / "controllers" / "cartpole_lqr.yaml"
SPIKING_CONFIG = SPIKING_CONFIGS["spiking_state_feedback"]


def make_cartpole(**kwargs) -> gymnasium.Env:
    """The cart-pole as the loop uses it (no checker, no step limit)."""
    return gymnasium.make(ENV_ID, disable_env_checker=True, max_episode_steps=10**9, **kwargs)


@pytest.fixture(scope="session")
def spiking_controllers():
    """Both spiking controllers, built once from their config files for the default cart-pole (10 N)."""
    env = make_cartpole()
    model = linear_model_of(env)
    env.close()
    controllers = {}
    for path in SPIKING_CONFIGS.values():
        kind, config = load_controller_config(path)
        controllers[kind] = build_controller(kind, config, model, 4, path)
    return controllers


class PybulletSpy:
    """Records every number passed to the PyBullet calls that move the robot, with the native step off
    (its C calls bypass these; tests/envs/test_native.py checks its commands)."""

    CALLS = ("setJointMotorControl2", "applyExternalForce")

    def __init__(self, monkeypatch):
        monkeypatch.setenv("NEUROCTL_PYBULLET_NATIVE", "0")
        native_api.cache_clear()
        self.numbers = {name: [] for name in self.CALLS}
        for name in self.CALLS:
            monkeypatch.setattr(pybullet, name, self._spy(name, getattr(pybullet, name)))

    def _spy(self, name, call):
        def spy(*args, **kwargs):
            self.numbers[name].extend(_numbers_in((args, kwargs)))
            return call(*args, **kwargs)
        return spy

    def all_finite(self) -> bool:
        return all(math.isfinite(x) for numbers in self.numbers.values() for x in numbers)


def _numbers_in(value):
    if isinstance(value, dict):
        return [x for item in value.values() for x in _numbers_in(item)]
    if isinstance(value, (tuple, list)):
        return [x for item in value for x in _numbers_in(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.fixture
def pybullet_spy(monkeypatch):
    yield PybulletSpy(monkeypatch)
    native_api.cache_clear()


def neuroctl_subprocess(*args, **kwargs) -> subprocess.CompletedProcess:
    """`python -m neuroctl ARGS` in a fresh interpreter (text output captured)."""
    return subprocess.run([sys.executable, "-m", "neuroctl", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kwargs)


def launch_text(controller: Path, run: str = "{duration_s: 0.5}", kwargs: str = "{}", extra: str = "") -> str:
    """A launch file for the cart-pole with the given controller config, run section and env kwargs."""
    return (f"env:\n  id: {ENV_ID}\n  kwargs: {kwargs}\ncontroller: {controller}\nrun: {run}\n"
            f"outputs: {{plots: false}}\n{extra}")
