"""A user's own gymnasium environment through `neuroctl launch`: `env.id: module:Id`, a controller
config's model section, `env.model: {linearise: true}`, and the one-line errors of each."""

import json
import textwrap

import numpy as np
import pytest

from neuroctl.cli import main
from neuroctl.launchfile import linear_model_of, load_launch, make_env
from neuroctl.runtime.robots import describe

pytest.importorskip("matplotlib")

DT = 0.02
OWN_ENV = textwrap.dedent(f'''
    """A point mass on a line (x, v) pushed by a force in [-2, 2] N: the required part of the robot
    contract only (control_period_s and the spaces)."""
    import gymnasium
    import numpy as np

    class PointMass(gymnasium.Env):
        control_period_s = {DT}

        def __init__(self):
            self.observation_space = gymnasium.spaces.Box(-10.0, 10.0, (2,), np.float64)
            self.action_space = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self.state = np.array([self.np_random.uniform(-1.0, 1.0), 0.0])
            return self.state.copy(), {{}}

        def step(self, action):
            a = float(np.clip(action[0], -2.0, 2.0))
            x, v = self.state
            self.state = np.array([x + v * {DT} + 0.5 * a * {DT}**2, v + a * {DT}])
            return self.state.copy(), -abs(self.state[0]), bool(abs(self.state[0]) > 5.0), False, {{}}

    gymnasium.register("PointMass-v0", entry_point=PointMass)
''')
MODEL = f"model: {{dt_s: {DT}, A: [[1.0, {DT}], [0.0, 1.0]], B: [[{0.5 * DT**2}], [{DT}]]}}\n"
MPC = "kind: mpc_spiking\nq: [10.0, 1.0]\nr: [0.1]\nhorizon: 20\niterations: 20\n"


@pytest.fixture(scope="module")
def own_dir(tmp_path_factory):
    """A directory with the user's module `own_point_mass` (found beside the launch files)."""
    directory = tmp_path_factory.mktemp("own")
    (directory / "own_point_mass.py").write_text(OWN_ENV)
    return directory


def write_launch(directory, controller_text, env_line="id: own_point_mass:PointMass-v0", name="launch.yaml",
                 extra=""):
    (directory / f"c_{name}").write_text(controller_text)
    path = directory / name
    path.write_text(f"env: {{{env_line}}}\ncontroller: c_{name}\nrun: {{duration_s: 3.0, seed: 3}}\n{extra}")
    return path


def error_of(capsys, path, *args):
    code = main(["launch", str(path), "--out", str(path.parent / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_own_env_with_a_model_section_is_driven_to_the_origin_with_metrics_and_plots(own_dir, capsys):
    path = write_launch(own_dir, MPC + MODEL)
    out = own_dir / "run"
    assert main(["launch", str(path), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    trajectory = np.load(out / "trajectory.npz")
    x = trajectory["observation"][:, 0]
    assert abs(x[0]) > 0.1 and abs(x[-1]) < 0.02  # from the seeded start to the origin
    assert metrics["task"]["success"] and metrics["ticks"] == 150
    assert metrics["env"] == "own_point_mass:PointMass-v0"
    assert 0 < metrics["activity"]["spikes_per_tick"] < 50
    loihi = metrics["energy"]["profiles"]["loihi"]
    assert loihi["applicable"] and loihi["energy_j"] > 0
    for name in ("state_command.png", "spike_raster.png", "latency.png", "activity_energy.png"):
        assert (out / name).stat().st_size > 20_000, name


def test_own_env_gets_the_default_description(own_dir):
    launch = load_launch(write_launch(own_dir, MPC + MODEL))
    with make_env(launch) as env:
        robot = describe(env)
        model = linear_model_of(env)
    assert robot.control_period_s == DT and robot.sensor_names == ("obs[0]", "obs[1]")
    assert [(a.name, a.limit) for a in robot.actuators] == [("act[0]", 2.0)] and robot.command_scales == (1.0,)
    np.testing.assert_array_equal(model.A, [[1.0, DT], [0.0, 1.0]])
    np.testing.assert_array_equal(model.u_high, [2.0])


@pytest.mark.parametrize("env_line, expected", [
    ("id: no_such_module_xyz:PointMass-v0",
     "launch.yaml: env.id: module 'no_such_module_xyz' does not import: ModuleNotFoundError"),
    ("id: own_point_mass:PointMas-v0",
     "launch.yaml: env.id: unknown environment id 'PointMas-v0' after importing 'own_point_mass'; "
     "did you mean 'PointMass-v0'?"),
    ("id: 'bad module:PointMass-v0'", "launch.yaml: env.id: expected 'module:Id' with a Python module name"),
])
def test_module_id_mistakes_are_one_line_errors_on_env_id(own_dir, capsys, env_line, expected):
    assert expected in error_of(capsys, write_launch(own_dir, MPC + MODEL, env_line))


def test_a_module_that_raises_while_importing_is_one_line(own_dir, capsys):
    (own_dir / "own_broken.py").write_text("raise RuntimeError('no licence server')\n")
    err = error_of(capsys, write_launch(own_dir, MPC, "id: own_broken:X-v0"))
    assert "env.id: module 'own_broken' does not import: RuntimeError: no licence server" in err


@pytest.mark.parametrize("model, expected", [
    (f"model: {{dt_s: {DT}, A: [[1.0]], B: [[1.0]]}}\n",
     "c_launch.yaml: model.A: expected 2 x 2 (one state per observation component of own_point_mass:PointMass-v0)"
     ", got 1 x 1"),
    (f"model: {{dt_s: {DT}, A: [[1.0, 0.0], [0.0, 1.0]], B: [[1.0, 0.0], [1.0, 0.0]]}}\n",
     "c_launch.yaml: model.B: expected 1 columns (one per action), got 2"),
    ("model: {dt_s: 0.01, A: [[1.0, 0.0], [0.0, 1.0]], B: [[0.0], [1.0]]}\n",
     "c_launch.yaml: model.dt_s: expected the environment's control period 0.02 s, got 0.01"),
    ("", "launch.yaml: env.id: 'own_point_mass:PointMass-v0' cannot be launched: it lacks a linear model"),
])
def test_model_mistakes_name_the_key(own_dir, capsys, model, expected):
    assert expected in error_of(capsys, write_launch(own_dir, MPC + model))


def test_linearise_needs_an_env_that_sets_its_state(own_dir, capsys):
    path = write_launch(own_dir, MPC, "id: own_point_mass:PointMass-v0, model: {linearise: true}")
    assert "launch.yaml: env.model.linearise: 'own_point_mass:PointMass-v0' cannot set its state" in \
        error_of(capsys, path)


def test_the_neuroctl_module_prefix_works_too(own_dir, capsys):
    path = write_launch(own_dir, "kind: lqr\n", "id: neuroctl:neuroctl/CartPoleBalance-v0", name="prefixed.yaml")
    assert main(["check", str(path)]) == 0, capsys.readouterr().err


def test_a_model_section_on_a_robot_with_its_own_model_replaces_it(own_dir):
    """The cart-pole's own linear model gives way to the controller config's."""
    model = ("model: {dt_s: 0.01, A: [[1, 0, 0.01, 0], [0, 1, 0, 0.01], [0, 0, 1, 0], [0, 0, 0, 1]], "
             "B: [[0], [0], [0.5], [-1]]}\n")
    launch = load_launch(write_launch(own_dir, "kind: lqr\n" + model, "id: neuroctl/CartPoleBalance-v0",
                                      name="cartpole.yaml"))
    with make_env(launch) as env:
        np.testing.assert_array_equal(linear_model_of(env).B, [[0], [0], [0.5], [-1]])
        assert linear_model_of(env).dt == 0.01


mujoco = pytest.importorskip("mujoco")


def test_linearise_gives_an_output_map_when_the_observation_is_not_the_state(tmp_path):
    """InvertedDoublePendulum observes sines and cosines (9 values) of its 6-value state: C = dy/dx."""
    path = write_launch(tmp_path, MPC, "id: InvertedDoublePendulum-v5, model: {linearise: true}")
    with make_env(load_launch(path)) as env:
        model = linear_model_of(env)
        env.reset(seed=3)  # the launch's seed: the operating point is the state after this reset
        x_op = env.unwrapped.state_vector()
    assert model.C.shape == (9, 6) and np.linalg.matrix_rank(model.C) == 6
    np.testing.assert_allclose(model.x_op, x_op)
    np.testing.assert_allclose(model.C[0], [1, 0, 0, 0, 0, 0], atol=1e-6)  # cart x
    np.testing.assert_allclose(model.C[1, 1], np.cos(x_op[1]), rtol=1e-3)  # d sin(q1) / d q1
    np.testing.assert_allclose(model.C[3, 1], -np.sin(x_op[1]), atol=0.01)  # d cos(q1) / d q1, one step on
    np.testing.assert_allclose(model.C[5:8, 3:6], np.eye(3), atol=1e-6)  # the velocities


def test_linearised_pendulum_matches_the_physics(tmp_path):
    """About upright at rest, one 40 ms step: the cart's position integrates its velocity, the pole falls
    away from upright (unstable), and a push on the cart tips the pole the other way."""
    path = write_launch(tmp_path, MPC, "id: InvertedPendulum-v5, kwargs: {reset_noise_scale: 0.0}, "
                        "model: {linearise: true}")
    with make_env(load_launch(path)) as env:
        model = linear_model_of(env)
    assert model.dt == pytest.approx(0.04)
    assert model.A[0, 2] == pytest.approx(0.04, rel=0.01)  # x += v dt
    assert model.A[1, 1] > 1.0 and model.A[3, 1] > 1.0  # gravity tips the pole further
    assert model.B[2, 0] > 0 and model.B[3, 0] < 0  # a push right: cart right, pole left
    assert max(abs(np.linalg.eigvals(model.A))) > 1.05  # open loop unstable
