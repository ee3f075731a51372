"""neuroctl/CartPoleBalance-v0: gymnasium conformance, the simulated plant, and its linear model."""

import functools
import math
import re
import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pybullet
import pytest
import scipy.linalg

from gymnasium.utils.env_checker import check_env

from neuroctl.envs.cartpole import TASK, CartPoleBalanceEnv

ENV_ID = "neuroctl/CartPoleBalance-v0"

# Warnings check_env may raise without failing the test: none so far. Add (substring, reason) pairs.
ALLOWED_WARNINGS: list[tuple[str, str]] = []


@pytest.fixture
def make_env(build_closed):
    """Build CartPoleBalanceEnv instances, closed after the test."""
    return functools.partial(build_closed, CartPoleBalanceEnv)


def action(value):
    return np.array([value], dtype=np.float32)


def model_of(env):
    """(A, B) of the cart-pole's linear model about upright, checked to be about the origin."""
    model = env.linear_model()
    assert not model.x_op.any() and not model.a_op.any() and model.dt_s == env.control_period_s
    return model.A, model.B


def rollout(env, seed, actions):
    """Observations from reset(seed) through one step per action."""
    observations = [env.reset(seed=seed)[0]]
    for a in actions:
        observations.append(env.step(action(a))[0])
    return np.array(observations)


# ---- gymnasium ----


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "render_mode": "rgb_array",
            "position_only": True,
            "observation_noise_std": 0.01,
            "control_period_s": 0.002,
            "pushes": [{"start_s": 0.0, "duration_s": 0.05, "force_n": 2.0}],
        },
    ],
)
def test_check_env_passes_without_warnings(kwargs):
    env = gymnasium.make(ENV_ID, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    messages = [str(w.message) for w in caught]
    unexpected = [m for m in messages if not any(allowed in m for allowed, _ in ALLOWED_WARNINGS)]
    assert unexpected == []


def test_make_with_module_prefix_in_fresh_interpreter():
    code = (
        "import sys, gymnasium\n"
        "assert 'neuroctl' not in sys.modules\n"
        f"env = gymnasium.make('neuroctl:{ENV_ID}')\n"
        "obs, _ = env.reset(seed=0)\n"
        "print(obs.shape, env.unwrapped.episode_steps)\n"
        "env.close()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(4,) 1000" in result.stdout


def lqr_gain(env):
    A, B = model_of(env)
    P = scipy.linalg.solve_discrete_are(A, B, np.diag([1.0, 1.0, 0.1, 0.1]), np.eye(1))
    return np.linalg.solve(1.0 + B.T @ P @ B, B.T @ P @ A)[0]


def test_the_env_truncates_itself_after_1000_steps_by_default():
    """No TimeLimit from the registration: the env ends the episode itself, balanced = success."""
    env = gymnasium.make(ENV_ID)
    assert env.spec.max_episode_steps is None and env.unwrapped.episode_steps == 1000
    K = lqr_gain(env.unwrapped)
    obs, _ = env.reset(seed=0)
    for k in range(999):
        obs, _, terminated, truncated, info = env.step(action(np.clip(-K @ obs, -1.0, 1.0)))
        assert not terminated and not truncated and "is_success" not in info
    _, _, terminated, truncated, info = env.step(action(0.0))
    assert truncated and not terminated and info["is_success"] is True and info["end_reason"] == "time_limit"
    env.close()


@pytest.mark.parametrize("period_s, steps", [(0.01, 200), (0.02, 100), (0.001, 2000), (0.003, 667)])
def test_episode_s_sets_the_episode_in_seconds(period_s, steps):
    env = CartPoleBalanceEnv(control_period_s=period_s, episode_s=2.0)
    K = lqr_gain(env)
    obs, _ = env.reset(seed=0)
    ends = []
    for k in range(1, steps + 1):
        obs, _, terminated, truncated, _ = env.step(action(np.clip(-K @ obs, -1.0, 1.0)))
        assert not terminated
        if truncated:
            ends.append(k)
    assert ends == [steps] and env.episode_steps == steps
    env.close()


def test_info_and_the_task_cost_reward():
    """info: the true state, the applied force (N), the step's task cost (the eval cost of the tick)."""
    env = CartPoleBalanceEnv(max_force_n=6.0, observation_noise_std=0.01, reward="task_cost")
    observation, info = env.reset(seed=2)
    before = info["state"]
    assert np.allclose(observation, before, atol=0.05) and not np.array_equal(observation, before)
    action = np.array([1.7], dtype=np.float32)  # clipped to 1: 6 N
    _, reward, _, _, info = env.step(action)
    assert info["command"].tolist() == [6.0]
    expected = float(before**2 @ np.array(TASK.cost_q)) + 1.0
    assert info["task_cost"] == pytest.approx(expected) and reward == -info["task_cost"]
    np.testing.assert_array_equal(info["state"], env.state)
    before = env.state.copy()
    _, reward, _, _, info = env.step(np.array([np.nan], dtype=np.float32))  # no force, no action cost
    assert info["command"].tolist() == [0.0]
    assert reward == pytest.approx(-float(before**2 @ np.array(TASK.cost_q)))
    env.close()


@pytest.mark.parametrize("reason", ["theta_limit", "x_limit"])
def test_why_an_episode_ended(reason):
    env = CartPoleBalanceEnv(initial_theta_rad=(0.0, 0.05))
    K = lqr_gain(env)
    obs, _ = env.reset(seed=0)
    for _ in range(1000):
        error = obs.astype(np.float64)
        error[0] = max(error[0] - 3.0, -0.5)  # drive the cart off the track, balanced
        u = 0.0 if reason == "theta_limit" else np.clip(-K @ error, -1.0, 1.0)
        obs, _, terminated, truncated, info = env.step(action(u))
        if terminated:
            break
    assert terminated and not truncated and info["end_reason"] == reason and info["is_success"] is False
    env.close()


def test_observation_bounds_are_what_the_task_allows():
    env = CartPoleBalanceEnv()
    assert env.observation_space.high.tolist() == [3.0, 1.0, 10.0, 20.0]
    assert np.array_equal(env.observation_space.low, -env.observation_space.high)
    env.close()


def test_public_attributes(make_env):
    env = make_env(control_period_s=0.005, max_force_n=7.5)
    assert env.physics_period_s == 0.001
    assert env.control_period_s == 0.005
    assert env.max_force_n == 7.5
    assert env.metadata["render_fps"] == pytest.approx(200.0)
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.observation_space.shape == (4,)
    assert env.observation_space.dtype == np.float32


def test_close_twice(make_env):
    env = make_env()
    env.close()
    env.close()


# ---- dynamics, termination, reward ----


def test_pole_falls_past_limit_with_zero_action(make_env):
    env = make_env(initial_theta_rad=(0.1, 0.1))
    obs, _ = env.reset(seed=1)
    rewards = []
    for _ in range(200):  # 2 s; from 0.1 rad the pole passes 0.6 rad after about 0.45 s
        previous = obs
        obs, reward, terminated, truncated, _ = env.step(action(0.0))
        rewards.append(reward)
        assert not truncated
        if terminated:
            break
    assert terminated is True
    assert abs(obs[1]) > 0.6 and abs(previous[1]) <= 0.6
    assert 30 <= len(rewards) <= 70
    assert rewards == [1.0] * len(rewards)  # the terminating step earns 1 too: return = episode length
    _, reward, terminated, _, _ = env.step(action(0.0))
    assert (reward, terminated) == (0.0, True)  # stepping past termination earns nothing


def test_cart_leaving_the_track_terminates(make_env):
    """A balancing LQR that drives the cart towards x = 3 m ends the episode at |x| > 2.4 m, pole up."""
    env = make_env(initial_theta_rad=(0.0, 0.05))
    A, B = model_of(env)
    P = scipy.linalg.solve_discrete_are(A, B, np.diag([1.0, 1.0, 0.1, 0.1]), np.eye(1))
    K = np.linalg.solve(1.0 + B.T @ P @ B, B.T @ P @ A)[0]
    obs, _ = env.reset(seed=0)
    for _ in range(1000):
        error = obs.astype(np.float64)
        error[0] = max(error[0] - 3.0, -0.5)  # approach the target slowly enough to stay balanced
        obs, _, terminated, _, _ = env.step(action(np.clip(-K @ error, -1.0, 1.0)))
        if terminated:
            break
    assert terminated
    assert obs[0] > 2.4
    assert abs(obs[1]) < 0.1


def test_full_push_moves_cart_towards_plus_x_and_pole_back(make_env):
    """Sign convention: action +1 pushes the cart towards +x (the pole then leans towards -x)."""
    env = make_env(initial_theta_rad=(0.0, 0.0))
    coasting = rollout(env, 3, [0.0] * 10)[-1]
    pushed = rollout(env, 3, [1.0] * 10)[-1]
    pulled = rollout(env, 3, [-1.0] * 10)[-1]
    assert pushed[0] > coasting[0] > pulled[0]
    assert pushed[2] - coasting[2] == pytest.approx(coasting[2] - pulled[2], rel=0.05)
    assert pushed[2] - coasting[2] > 0.8  # 10 N on about 1.1 kg for 0.1 s is about 0.9 m/s
    assert pushed[1] < coasting[1] < pulled[1]


def test_actions_are_clipped_and_scaled_by_max_force(make_env):
    env = make_env()
    at_limit = rollout(env, 4, [1.0, -1.0, 1.0])
    beyond = rollout(env, 4, [7.0, -1e9, 1.5])
    np.testing.assert_array_equal(at_limit, beyond)
    double_force = make_env(max_force_n=20.0)
    np.testing.assert_array_equal(rollout(double_force, 4, [0.5, -0.5, 0.5]), at_limit)


def test_nonfinite_action_never_reaches_pybullet(make_env, monkeypatch):
    env = make_env()
    env._native = False  # PyBullet's Python path, so that its calls can be seen (the native path: test_native)
    forces = []
    set_motor = pybullet.setJointMotorControl2

    def spy(*args, **kwargs):
        forces.append(kwargs.get("force"))
        return set_motor(*args, **kwargs)

    monkeypatch.setattr(pybullet, "setJointMotorControl2", spy)
    with_nonfinite = rollout(env, 5, [np.nan, np.inf, -np.inf, 0.3])
    assert env.nonfinite_actions == 3
    assert len(forces) == 4 and all(math.isfinite(f) for f in forces)  # one a period: its 10 substeps in one call
    np.testing.assert_array_equal(with_nonfinite, rollout(env, 5, [0.0, 0.0, 0.0, 0.3]))


@pytest.mark.parametrize("bad, error, detail", [
    (np.zeros(2, dtype=np.float32), ValueError, "shape (2,)"),
    (np.zeros(0, dtype=np.float32), ValueError, "shape (0,)"),
    (np.array([[0.1]], dtype=np.float32), ValueError, "shape (1, 1)"),
    ([[0.1]], ValueError, "shape (1, 1)"),
    ([[0.1], [0.2, 0.3]], ValueError, "[[0.1], [0.2, 0.3]]"),
    pytest.param(10**400, ValueError, "within the float range", id="10**400"),
    pytest.param([10**400], ValueError, "within the float range", id="[10**400]"),
    ("0.5", TypeError, "'0.5'"),
    (["0.5"], TypeError, "dtype <U3"),
    (True, TypeError, "True"),
    (np.array([False]), TypeError, "dtype bool"),
    (None, TypeError, "None"),
    (1j, TypeError, "complex128"),
    ({"force": 1.0}, TypeError, "{'force': 1.0}"),
])
def test_malformed_action_is_an_error_naming_action(make_env, bad, error, detail):
    env = make_env()
    env.reset(seed=0)
    with pytest.raises(error, match="^action: must be one real number") as raised:
        env.step(bad)
    assert detail in str(raised.value)
    assert env.nonfinite_actions == 0


def test_malformed_action_through_gymnasium_make_leaves_the_episode_untouched():
    env = gymnasium.make(ENV_ID)
    env.reset(seed=2)
    with pytest.raises(TypeError, match="^action: "):
        env.step("1")
    with pytest.raises(ValueError, match="^action: "):
        env.step([0.1, 0.2])
    after_errors = env.step(action(0.3))[0]
    reference = gymnasium.make(ENV_ID)
    reference.reset(seed=2)
    np.testing.assert_array_equal(after_errors, reference.step(action(0.3))[0])


@pytest.mark.parametrize("same", [0.25, np.float64(0.25), np.float32(0.25), [0.25], (0.25,), np.array(0.25),
                                  np.array([0.25]), np.array([0.25], dtype=object), np.array([0.25], np.float16)])
def test_one_real_number_in_any_form_is_the_same_action(make_env, same):
    env = make_env()
    env.reset(seed=5)
    np.testing.assert_array_equal(env.step(same)[0], rollout(make_env(), 5, [0.25])[1])


@pytest.mark.parametrize("integer, clipped", [(1, 1.0), (np.int64(-3), -1.0), ([10**30], 1.0), (np.array([0]), 0.0)])
def test_integer_actions_are_numbers_clipped_like_floats(make_env, integer, clipped):
    env = make_env()
    env.reset(seed=5)
    np.testing.assert_array_equal(env.step(integer)[0], rollout(make_env(), 5, [clipped])[1])


def test_push_on_pole_changes_theta_dot_from_its_start(make_env):
    actions = [0.0] * 10
    plain = rollout(make_env(), 6, actions)
    pushed = rollout(make_env(pushes=[{"start_s": 0.05, "duration_s": 0.02, "force_n": 5.0}]), 6, actions)
    np.testing.assert_array_equal(pushed[:6], plain[:6])  # no effect before 0.05 s (step 5 ends there)
    assert pushed[6, 3] - plain[6, 3] > 0.2  # a +x force on the pole tips it towards +x
    assert pushed[7, 3] - plain[7, 3] > pushed[6, 3] - plain[6, 3]  # still acting during 0.06-0.07 s


def test_same_seed_same_actions_bit_identical(make_env):
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, 100)
    first = make_env()
    reference = rollout(first, 7, actions)
    rollout(first, 8, np.ones(300))  # an unrelated episode in between
    np.testing.assert_array_equal(rollout(first, 7, actions), reference)
    np.testing.assert_array_equal(rollout(make_env(), 7, actions), reference)


def test_different_seeds_give_different_initial_states(make_env):
    env = make_env()
    starts = np.array([env.reset(seed=seed)[0] for seed in range(20)])
    assert len({tuple(s) for s in starts}) == 20
    assert np.all(np.abs(starts[:, 1]) <= 0.1) and np.all(np.abs(starts[:, [0, 2, 3]]) <= 0.05)
    assert np.any(starts[:, 1] > 0.0) and np.any(starts[:, 1] < 0.0)


def test_initial_theta_range(make_env):
    env = make_env(initial_theta_rad=(0.2, 0.25))
    thetas = np.array([env.reset(seed=seed)[0][1] for seed in range(20)])
    assert np.all((np.abs(thetas) >= 0.2 - 1e-7) & (np.abs(thetas) <= 0.25 + 1e-7))


def test_position_only_observation(make_env):
    full = rollout(make_env(), 9, [0.5] * 5)
    positions = rollout(make_env(position_only=True), 9, [0.5] * 5)
    assert positions.shape == (6, 2)
    np.testing.assert_array_equal(positions, full[:, :2])


def test_observation_noise_is_seeded_and_has_the_given_std(make_env):
    actions = [0.0] * 100  # the pole falls but does not reach the wrap of theta at +-pi in 1 s
    clean = rollout(make_env(), 10, actions)
    noisy_env = make_env(observation_noise_std=0.01)
    noisy = rollout(noisy_env, 10, actions)
    np.testing.assert_array_equal(rollout(noisy_env, 10, actions), noisy)
    assert not np.array_equal(rollout(noisy_env, 11, actions), noisy)
    noise = (noisy - clean).ravel()  # noise does not change the dynamics: same true states
    assert np.std(noise) == pytest.approx(0.01, rel=0.1)  # 404 samples: the estimate's sd is 3.5%
    assert abs(np.mean(noise)) < 0.003  # 6 standard errors


def test_stage_times_are_updated_in_place(make_env):
    env = make_env()
    times = env.stage_times_s
    assert env.STAGE_NAMES == ("actuate", "physics", "sense")
    assert times.dtype == np.float64 and times.shape == (3,)
    env.reset(seed=0)
    env.step(action(0.0))
    assert env.stage_times_s is times
    assert np.all(times > 0.0)


# ---- linear model ----


@pytest.mark.parametrize("control_period_s", [0.001, 0.01, 0.02])
def test_linear_model_predicts_one_control_period(make_env, control_period_s):
    """The model's one-step change matches the plant's within 1% per component near upright.

    At |theta| = 0.01 rad and speeds <= 0.05 the plant's nonlinearity (sin, centripetal terms) is below
    1e-3 of the change (6e-4 measured at 20 ms); 1% leaves room for the float32 observations (the 1e-7
    floor) and still catches a wrong sign, scale or period.
    """
    env = make_env(control_period_s=control_period_s, initial_theta_rad=(0.01, 0.01))
    A, B = model_of(env)
    for seed in range(5):
        for a in (-0.2, 0.2):
            before, _ = env.reset(seed=seed)
            after = env.step(action(a))[0]
            x = before.astype(np.float64)
            true_change = after.astype(np.float64) - x
            predicted_change = A @ x + B[:, 0] * a - x
            error = np.abs(predicted_change - true_change)
            assert np.all(error <= 0.01 * np.abs(true_change) + 1e-7), (seed, a, error, true_change)


def test_linear_model_unstable_pole_and_design_figures(make_env):
    env = make_env()
    A, B = model_of(env)
    assert A.dtype == np.float64 and A.shape == (4, 4) and B.shape == (4, 1)
    continuous = np.log(np.linalg.eigvals(A).astype(complex)).real / env.control_period_s
    assert continuous.max() == pytest.approx(3.97, rel=0.05)
    fine = make_env(control_period_s=0.001)
    A1, B1 = model_of(fine)
    dt = fine.control_period_s
    assert A1[3, 1] / dt == pytest.approx(15.78, rel=0.01)  # theta'' per rad of theta
    assert B1[3, 0] / dt / fine.max_force_n == pytest.approx(-1.46, rel=0.01)  # theta'' per N
    assert B1[2, 0] > 0.0  # positive action accelerates the cart towards +x


def test_linear_model_scales_with_max_force_and_ignores_pushes(make_env):
    A, B = model_of(make_env())
    A2, B2 = model_of(make_env(max_force_n=20.0))
    np.testing.assert_allclose(A2, A, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(B2, 2.0 * B, rtol=1e-6)
    A3, B3 = model_of(make_env(pushes=[{"start_s": 0.0, "duration_s": 1.0, "force_n": 50.0}]))
    np.testing.assert_array_equal(A3, A)
    np.testing.assert_array_equal(B3, B)


def test_linear_model_and_render_observation_leave_the_episode_untouched(make_env):
    actions = np.random.default_rng(1).uniform(-1.0, 1.0, 40)
    reference = rollout(make_env(), 12, actions)
    env = make_env()
    observations = [env.reset(seed=12)[0]]
    for k, a in enumerate(actions):
        if k == 20:
            A, B = model_of(env)
            A[:] = 0.0  # callers get copies, not the cache
            env.render_observation([1.0, 0.3, 0.0, 0.0])
        observations.append(env.step(action(a))[0])
    np.testing.assert_array_equal(np.array(observations), reference)
    assert np.any(env.linear_model().A != 0.0)


# ---- rendering ----


def cart_column(frame):
    """Mean column of the cart's (dark blue) pixels."""
    blue = (frame[:, :, 2] > 100) & (frame[:, :, 0] < 50) & (frame[:, :, 1] < 50)
    return np.nonzero(blue)[1].mean()


def pole_pixels(frame):
    """Mask of the pole's (orange, shaded) pixels."""
    rgb = frame.astype(int)
    return (rgb[:, :, 0] > 120) & (rgb[:, :, 0] - rgb[:, :, 1] > 60) & (rgb[:, :, 2] < 80)


def test_render_rgb_array_and_render_observation(make_env):
    env = make_env(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (240, 320, 3)
    right = env.render_observation([2.4, 0.6, 0.0, 0.0])
    left = env.render_observation([-2.4, -0.6, 0.0, 0.0])
    assert cart_column(left) < 60 < 160 < 260 < cart_column(right)  # +x is to the right
    upright_rows = np.nonzero(pole_pixels(env.render_observation([0.0, 0.0, 0.0, 0.0])))[0]
    assert 40 < upright_rows.max() - upright_rows.min() < 60  # the 1 m pole is about 47 px tall
    leaning_columns = np.nonzero(pole_pixels(right))[1]
    assert leaning_columns.min() > 260 and leaning_columns.max() < 319  # its tip is inside the frame
    np.testing.assert_array_equal(env.render(), frame)  # the state was restored


def test_render_without_render_mode_returns_none(make_env):
    env = make_env()
    env.reset(seed=0)
    assert env.render() is None
    assert env.render_observation([0.0, 0.1, 0.0, 0.0]).shape == (240, 320, 3)
    with pytest.raises(ValueError, match="^observation:"):
        env.render_observation([0.0, np.nan, 0.0, 0.0])


# ---- keyword arguments ----


def test_control_period_message():
    with pytest.raises(ValueError) as error:
        CartPoleBalanceEnv(control_period_s=0.0125)
    assert str(error.value) == "control_period_s: must be a multiple of 0.001 s in [0.001, 0.02], got 0.0125"


PUSH = {"start_s": 0.1, "duration_s": 0.1, "force_n": 1.0}


@pytest.mark.parametrize(
    "name, value",
    [
        ("control_period_s", 0.0),
        ("control_period_s", 0.021),
        ("control_period_s", 0.0015),
        ("control_period_s", "0.01"),
        ("control_period_s", True),
        ("max_force_n", 0.0),
        ("max_force_n", -1.0),
        ("max_force_n", 1000.5),
        ("max_force_n", math.nan),
        ("initial_theta_rad", (0.2, 0.1)),
        ("initial_theta_rad", (-0.1, 0.1)),
        ("initial_theta_rad", (0.0, 0.6)),
        ("initial_theta_rad", (0.1,)),
        ("initial_theta_rad", 0.1),
        ("observation_noise_std", -0.01),
        ("observation_noise_std", math.inf),
        ("position_only", 1),
        ("position_only", "yes"),
        ("pushes", PUSH),
        ("pushes[0]", [{"start_s": 0.1, "duration_s": 0.1}]),
        ("pushes[0]", [{**PUSH, "extra": 1.0}]),
        ("pushes[0].start_s", [{**PUSH, "start_s": -0.1}]),
        ("pushes[0].duration_s", [{**PUSH, "duration_s": 0.0}]),
        ("pushes[0].force_n", [{**PUSH, "force_n": math.nan}]),
        ("pushes[1]", [PUSH, "push"]),
        ("render_mode", "human"),
    ],
)
def test_invalid_kwarg_names_itself(name, value):
    with pytest.raises(ValueError, match=f"^{re.escape(name)}: "):
        CartPoleBalanceEnv(**{name.partition("[")[0]: value})


@pytest.mark.parametrize("kwargs, message", [
    ({"pushes": [{**PUSH, "start_s": 1e308}]}, "pushes[0].start_s: must be a time in [0, 1e+06] s, got 1e+308"),
    ({"pushes": [{**PUSH, "duration_s": 1e308}]},
     "pushes[0].duration_s: must be a duration in [0.001, 1e+06] s, got 1e+308"),
    ({"pushes": [PUSH, {"start_s": 1e308, "duration_s": 1e308, "force_n": 1e308}]},
     "pushes[1].start_s: must be a time in [0, 1e+06] s, got 1e+308"),
    ({"pushes": [{**PUSH, "start_s": 10**400}]}, "pushes[0].start_s: must be a time in [0, 1e+06] s, got 1000"),
    ({"pushes": [{**PUSH, "force_n": 1e308}]}, "pushes[0].force_n: must be a force in [-10000, 10000] N, got 1e+308"),
    ({"pushes": [{**PUSH, "force_n": -math.inf}]}, "pushes[0].force_n: must be a force in [-10000, 10000] N"),
    ({"control_period_s": 1e308}, "control_period_s: must be a multiple of 0.001 s in [0.001, 0.02], got 1e+308"),
    ({"control_period_s": 1e-308}, "control_period_s: must be a multiple of 0.001 s in [0.001, 0.02], got 1e-308"),
    ({"control_period_s": 10**400}, "control_period_s: must be a multiple of 0.001 s in [0.001, 0.02], got 1000"),
    ({"max_force_n": 1e308}, "max_force_n: must be a force in N in (0, 1000], got 1e+308"),
    ({"observation_noise_std": 1e308}, "observation_noise_std: must be a standard deviation in [0, 100], got 1e+308"),
    ({"observation_noise_std": 101.0}, "observation_noise_std: must be a standard deviation in [0, 100], got 101.0"),
    ({"initial_theta_rad": (0.0, 1e308)}, "initial_theta_rad: must be (low, high) in rad"),
    ({"initial_theta_rad": (-1e308, 0.1)}, "initial_theta_rad: must be (low, high) in rad"),
])
def test_huge_kwargs_name_their_key_path_and_range(kwargs, message):
    """Values that overflowed converting seconds to ticks (OverflowError) or reached PyBullet as huge
    numbers: a ValueError naming the key path, as gymnasium.make (and so a launch file) reports it."""
    with pytest.raises(ValueError) as error:
        gymnasium.make(ENV_ID, **kwargs)
    assert str(error.value).startswith(message)


def test_largest_push_and_noise_keep_pybullet_and_the_observation_finite(monkeypatch):
    numbers = []
    apply_force = pybullet.applyExternalForce

    def spy(body, link, force, position, frame, **kwargs):
        numbers.extend([*force, *position])
        return apply_force(body, link, force, position, frame, **kwargs)

    monkeypatch.setattr(pybullet, "applyExternalForce", spy)
    env = gymnasium.make(ENV_ID, observation_noise_std=100.0,
                         pushes=[{"start_s": 0.0, "duration_s": 1e6, "force_n": 1e4}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in a cast either
        observations = [env.reset(seed=0)[0]] + [env.step(action(1.0))[0] for _ in range(50)]
    assert len(numbers) == 6 * 50 * 10 and all(math.isfinite(x) for x in numbers)
    assert np.all(np.isfinite(observations)) and np.all(np.isfinite(env.unwrapped.state))
    env.close()


def test_scene_refuses_a_period_pybullet_cannot_use():
    from neuroctl.envs.bullet import BulletScene

    for period in (0.0, -0.001, math.nan, 1e308, "0.001"):
        with pytest.raises(ValueError, match=r"^physics_period_s: must be a period in \(0, 1\] s"):
            BulletScene(period)
    with pytest.raises(ValueError, match=r"^gravity_m_s2: must be an acceleration in \[-1000, 1000\]"):
        BulletScene(0.001, gravity_m_s2=math.inf)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"control_period_s": 0.001},
        {"control_period_s": 0.02},
        {"control_period_s": 0.003},
        {"max_force_n": 1000},
        {"initial_theta_rad": [0.5, 0.59]},
        {"pushes": [PUSH, {"start_s": 0, "duration_s": 0.001, "force_n": -3}]},
    ],
)
def test_valid_edge_kwargs_are_accepted(kwargs):
    CartPoleBalanceEnv(**kwargs).close()


def test_a_robot_without_a_push_site_refuses_pushes():
    """A BulletRobotEnv that declares no push_description takes no pushes: a clear error, not a crash
    at the first push."""
    class Unpushable(CartPoleBalanceEnv):
        push_description = None

    with pytest.raises(ValueError, match=r"^pushes: must be empty: Unpushable takes no pushes"):
        Unpushable(pushes=[{"start_s": 0.0, "duration_s": 0.1, "force_n": 1.0}])
    Unpushable().close()  # without pushes it is a working robot
