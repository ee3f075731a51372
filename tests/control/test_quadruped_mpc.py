"""The quadruped's convex MPC: the centroidal model against integration of the rigid-body dynamics, the
friction pyramids, the QP solved by OSQP (constraints met, the weight carried at standing), the trot
gait, and the closed loop on the simulated A1 (neuroctl/QuadrupedTrot-v0)."""

import dataclasses
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import neuroctl  # noqa: F401  (registers the environments)
from neuroctl.activity import CPU_MACS
from neuroctl.config import ConfigError
from neuroctl.control.centroidal import (FORCE_SIZE, GRAVITY, GRAVITY_MPS2, PYRAMID_ROWS, STATE_SIZE, YAW,
                                         CentroidalMPC, continuous_dynamics, discretise, euler_zyx_rotation,
                                         friction_pyramid)
from neuroctl.control.gait import GaitClock, raibert_foothold, swing_trajectory
from neuroctl.control.qp_solvers import STATUS_INFEASIBLE, STATUS_SOLVED, InequalityQP, OSQPSolver
from neuroctl.control.registry import build_controller, load_controller_config
from neuroctl.control.whitening import Whitening

MASS_KG = 12.0
INERTIA_KGM2 = np.array(((0.07, 0.001, -0.002), (0.001, 0.26, 0.0), (-0.002, 0.0, 0.28)))
STANDING_FEET_M = np.array(((0.18, -0.13, -0.27), (0.18, 0.13, -0.27), (-0.18, -0.13, -0.27),
                            (-0.18, 0.13, -0.27)))
WEIGHTS = np.array((5, 5, 0.2, 0, 0, 10, 0.5, 0.5, 1, 1, 1, 0.5, 0), dtype=float)  # after motion_imitation


def random_state(rng, small_angle_rad=0.05):
    x = np.concatenate((rng.uniform(-small_angle_rad, small_angle_rad, 2), rng.uniform(-np.pi, np.pi, 1),
                        rng.uniform(-1, 1, 3), rng.uniform(-0.5, 0.5, 3), rng.uniform(-1, 1, 3), [-GRAVITY_MPS2]))
    return x


def test_discretisation_is_the_exact_zero_order_hold_of_the_linear_dynamics():
    rng = np.random.default_rng(3)
    a_c, b_c = np.zeros((STATE_SIZE, STATE_SIZE)), np.zeros((STATE_SIZE, 12))
    a, b = np.zeros_like(a_c), np.zeros_like(b_c)
    for _ in range(5):
        yaw = rng.uniform(-np.pi, np.pi)
        feet = STANDING_FEET_M + rng.normal(0, 0.03, (4, 3))
        continuous_dynamics(yaw, MASS_KG, np.linalg.inv(INERTIA_KGM2), feet, a_c, b_c)
        discretise(a_c, b_c, 0.03, a, b)
        augmented = np.zeros((STATE_SIZE + 12, STATE_SIZE + 12))
        augmented[:STATE_SIZE, :STATE_SIZE], augmented[:STATE_SIZE, STATE_SIZE:] = a_c, b_c
        exact = expm(augmented * 0.03)
        np.testing.assert_allclose(a, exact[:STATE_SIZE, :STATE_SIZE], atol=1e-12)
        np.testing.assert_allclose(b, exact[:STATE_SIZE, STATE_SIZE:], atol=1e-12)
        x0, u = random_state(rng), rng.uniform(-20, 60, 12)
        flow = solve_ivp(lambda t, x: a_c @ x + b_c @ u, (0, 0.03), x0, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(a @ x0 + b @ u, flow.y[:, -1], atol=1e-8)


def rigid_body_flow(x0, forces, feet_world_m, duration_s):
    """The nonlinear single rigid body (full rotation, gyroscopic term, feet fixed in the world) from the
    13-state x0 under constant foot forces: its 13-state after `duration_s`."""
    rotation0 = euler_zyx_rotation(*x0[:3])
    inverse_body = np.linalg.inv(INERTIA_KGM2)

    def flow(_, y):
        rotation, p, w, v = y[:9].reshape(3, 3), y[9:12], y[12:15], y[15:18]
        inertia_world = rotation @ INERTIA_KGM2 @ rotation.T
        torque = sum(np.cross(foot - p, f) for foot, f in zip(feet_world_m, forces.reshape(4, 3)))
        w_dot = rotation @ inverse_body @ rotation.T @ (torque - np.cross(w, inertia_world @ w))
        skew_w = np.array(((0, -w[2], w[1]), (w[2], 0, -w[0]), (-w[1], w[0], 0)))
        v_dot = forces.reshape(4, 3).sum(axis=0) / MASS_KG + (0, 0, -GRAVITY_MPS2)
        return np.concatenate(((skew_w @ rotation).reshape(-1), v, w_dot, v_dot))

    y = solve_ivp(flow, (0, duration_s), np.concatenate((rotation0.reshape(-1), x0[3:12])), rtol=1e-10,
                  atol=1e-12).y[:, -1]
    rotation = y[:9].reshape(3, 3)
    euler = (np.arctan2(rotation[2, 1], rotation[2, 2]), -np.arcsin(rotation[2, 0]),
             np.arctan2(rotation[1, 0], rotation[0, 0]))
    return np.concatenate((euler, y[9:18], [-GRAVITY_MPS2]))


def test_discrete_model_tracks_the_nonlinear_rigid_body_over_a_step():
    """One MPC step (30 ms) from small roll and pitch and slow motion (the lever arms r_i, which the model
    holds for the step, move by a few mm): the linearised discrete model's angles, positions and velocities
    are within 1e-3 of the nonlinear rigid body's (which has the full rotation and the gyroscopic term),
    its angular velocity within 0.05 rad/s for changes of up to 2 rad/s (the body turns by up to 0.03
    rad in the step, turning its inertia in the world, which the model holds: measured at most 0.040
    rad/s over 30 draws)."""
    rng = np.random.default_rng(7)
    a_c, b_c = np.zeros((STATE_SIZE, STATE_SIZE)), np.zeros((STATE_SIZE, 12))
    a, b = np.zeros_like(a_c), np.zeros_like(b_c)
    for _ in range(6):
        x0 = random_state(rng, 0.03)
        x0[6:9] = rng.uniform(-0.3, 0.3, 3)
        x0[9:12] = rng.uniform(-0.05, 0.05, 3)
        feet_world = x0[3:6] + STANDING_FEET_M @ euler_zyx_rotation(*x0[:3]).T
        forces = np.tile((rng.uniform(-5, 5), rng.uniform(-5, 5), MASS_KG * GRAVITY_MPS2 / 4), 4) \
            + rng.normal(0, 3, 12)
        continuous_dynamics(x0[YAW], MASS_KG, np.linalg.inv(INERTIA_KGM2), feet_world - x0[3:6], a_c, b_c)
        discretise(a_c, b_c, 0.03, a, b)
        predicted = a @ x0 + b @ forces
        true = rigid_body_flow(x0, forces, feet_world, 0.03)
        error = np.abs(predicted - true)
        assert np.max(error[[0, 1, 2, 3, 4, 5, 9, 10, 11]]) < 1e-3
        assert np.max(error[6:9]) < 0.05
        assert np.max(np.abs(true - x0)[6:9]) > 0.1



def test_compiled_condensing_equals_the_model_and_the_textbook_products():
    """CentroidalMPC.build's kernel: each step's A, B are discretise(continuous_dynamics(...)) at the step's
    yaw; Phi and Gamma roll those out; H = Gamma' W Gamma + alpha I and q = Gamma' W (Phi x0 - X_ref) -
    alpha U_nom as dense products."""
    rng = np.random.default_rng(5)
    mpc = standing_mpc(horizon=6)
    x0 = random_state(rng)
    reference = np.array([random_state(rng) for _ in range(6)])
    feet = STANDING_FEET_M + rng.normal(0, 0.05, (6, 4, 3))
    contacts = (rng.uniform(size=(6, 4)) < 0.7).astype(float)
    mpc.build(x0, reference, feet, contacts)
    a_c, b_c = np.zeros((STATE_SIZE, STATE_SIZE)), np.zeros((STATE_SIZE, 12))
    a, b = np.zeros_like(a_c), np.zeros_like(b_c)
    rollout_a, rollout_b = [], []
    for k, yaw in enumerate([x0[YAW], *reference[:-1, YAW]]):
        continuous_dynamics(yaw, MASS_KG, np.linalg.inv(INERTIA_KGM2), feet[k], a_c, b_c)
        discretise(a_c, b_c, 0.03, a, b)
        np.testing.assert_allclose(mpc.A[k], a, atol=1e-13)
        np.testing.assert_allclose(mpc.B[k], b, atol=1e-13)
        rollout_a.append(a.copy()), rollout_b.append(b.copy())
    u = rng.normal(0, 30, 72)
    x, states = x0.copy(), []
    for k in range(6):
        x = rollout_a[k] @ x + rollout_b[k] @ u[12 * k:12 * (k + 1)]
        states.append(x)
    np.testing.assert_allclose(mpc.predict(x0, u), states, atol=1e-9)
    w = np.tile(WEIGHTS, 6)
    np.testing.assert_allclose(mpc.H, mpc.Gamma.T @ (w[:, None] * mpc.Gamma) + 1e-5 * np.eye(72), atol=1e-12)
    nominal = np.zeros((6, 4, 3))
    nominal[:, :, 2] = contacts * MASS_KG * GRAVITY_MPS2 / np.maximum(contacts.sum(axis=1), 1)[:, None]
    expected_q = mpc.Gamma.T @ (w * (mpc.Phi @ x0 - reference.reshape(-1))) - 1e-5 * nominal.reshape(-1)
    np.testing.assert_allclose(mpc.q, expected_q, atol=1e-10)

def test_friction_pyramid_rows_bound_tangential_forces_by_mu_fz():
    g = friction_pyramid(0.6, 2, 3)
    assert g.shape == (PYRAMID_ROWS * 2 * 3, FORCE_SIZE * 2 * 3)
    np.testing.assert_array_equal(g[:4, :3], ((1, 0, -0.6), (-1, 0, -0.6), (0, 1, -0.6), (0, -1, -0.6)))
    assert not np.any(g[:4, 3:]) and not np.any(g[4:8, :3])
    u = np.tile((10.0, -20.0, 50.0), 6)
    assert np.all(g @ u <= 0)  # |fx|, |fy| <= 30 = 0.6 fz
    u[4] = 31.0  # the second foot's fy beyond the cone
    violated = np.flatnonzero(g @ u > 0)
    np.testing.assert_array_equal(violated, [6])
    np.testing.assert_allclose((g @ u)[6], 31.0 - 30.0)


def standing_mpc(horizon=10):
    return CentroidalMPC(MASS_KG, INERTIA_KGM2, 4, horizon, 0.03, WEIGHTS, 1e-5, 0.6, 150.0)


def qp_of(mpc):
    return InequalityQP(mpc.H, mpc.q, mpc.lower, mpc.upper, mpc.G, mpc.h)


def standing_reference(mpc, x0):
    return np.tile(x0, (mpc.horizon, 1))


def test_standing_qp_carries_the_weight_within_the_friction_cones():
    mpc = standing_mpc()
    x0 = np.zeros(STATE_SIZE)
    x0[5], x0[GRAVITY] = 0.27, -GRAVITY_MPS2
    feet = np.tile(STANDING_FEET_M, (mpc.horizon, 1, 1))
    mpc.build(x0, standing_reference(mpc, x0), feet, np.ones((mpc.horizon, 4)))
    result = OSQPSolver(eps_abs=1e-7, eps_rel=1e-7).solve(qp_of(mpc))
    assert result.status == STATUS_SOLVED
    forces = result.u.reshape(mpc.horizon, 4, 3)
    # the first half of the plan carries the weight (the applied first step within 0.6%); later steps
    # unload, as a horizon without a terminal cost does (the last force moves no weighted state much)
    np.testing.assert_allclose(forces[:5, :, 2].sum(axis=1), MASS_KG * GRAVITY_MPS2, rtol=1e-2)
    np.testing.assert_allclose(forces[0, :, 2].sum(), MASS_KG * GRAVITY_MPS2, rtol=6e-3)
    np.testing.assert_allclose(forces[0, :, 2], MASS_KG * GRAVITY_MPS2 / 4, rtol=3e-2)  # a symmetric stance
    assert result.max_violation < 1e-4
    predicted = mpc.predict(x0, result.u)
    assert np.max(np.abs(predicted[:5, :12] - x0[:12])) < 5e-3  # it stays where it stands (mm, mrad, mm/s)


def test_trot_qp_meets_every_constraint_and_leaves_swing_feet_unloaded():
    """A diagonal pair in stance, the other switching in halfway, commanded 0.5 m/s forward from rest:
    the solution is feasible (box and pyramids, 1e-4 N), swing forces zero, and it pushes forward."""
    mpc = standing_mpc()
    rng = np.random.default_rng(11)
    x0 = np.zeros(STATE_SIZE)
    x0[5], x0[GRAVITY] = 0.27, -GRAVITY_MPS2
    x0[:2] = rng.uniform(-0.02, 0.02, 2)
    reference = standing_reference(mpc, x0)
    reference[:, :2] = 0.0
    reference[:, 9] = 0.5
    reference[:, 3] = 0.5 * 0.03 * np.arange(1, mpc.horizon + 1)
    contacts = np.zeros((mpc.horizon, 4))
    contacts[:, [0, 3]] = 1.0
    contacts[5:, [1, 2]], contacts[5:, [0, 3]] = 1.0, 0.0
    mpc.build(x0, reference, np.tile(STANDING_FEET_M, (mpc.horizon, 1, 1)), contacts)
    result = OSQPSolver(eps_abs=1e-7, eps_rel=1e-7).solve(qp_of(mpc))
    assert result.status == STATUS_SOLVED
    assert result.max_violation < 1e-4
    forces = result.u.reshape(mpc.horizon, 4, 3)
    np.testing.assert_allclose(forces[contacts == 0], 0.0, atol=1e-6)
    fz = forces[:, :, 2]
    assert np.all(fz >= -1e-4) and np.all(fz <= 150.0 + 1e-4)
    tangential = np.abs(forces[:, :, :2]).max(axis=2)
    assert np.all(tangential <= 0.6 * fz + 1e-4)
    assert forces[0, :, 0].sum() > 1.0  # accelerates forward
    assert 0.8 * MASS_KG * GRAVITY_MPS2 < fz[0].sum() < 1.2 * MASS_KG * GRAVITY_MPS2


# ---- the controller on the simulated A1 ----

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "controllers"


@pytest.fixture(scope="module")
def trot_env():
    env = gymnasium.make("neuroctl/QuadrupedTrot-v0", command=[0.5, 0.0, 0.0], command_ramp_s=1.0)
    yield env
    env.close()


def build(env, name="quadruped_mpc_osqp", **changes):
    kind, config = load_controller_config(CONFIGS / f"{name}.yaml")
    config = dataclasses.replace(config, **changes)
    return build_controller(kind, config, None, env.observation_space.shape[0], name, env.unwrapped)


def trot(env, controller, seconds, seed):
    """Run the closed loop; (ticks run, heading-frame velocity errors (ticks, 3), final observation)."""
    robot = env.unwrapped
    observation, _ = env.reset(seed=seed)
    controller.reset(seed)
    reference, errors = np.zeros(3), []
    for tick in range(int(round(seconds / robot.control_period_s))):
        robot.reference(reference)
        action = controller.act(np.asarray(observation, dtype=np.float64), reference)
        assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0)
        observation, _, terminated, truncated, _ = env.step(action)
        error = np.zeros(3)
        robot.tracking_error(np.asarray(observation, dtype=np.float64), error)
        errors.append(error)
        if terminated or truncated:
            break
    return tick + 1, np.array(errors), np.asarray(observation, dtype=np.float64)


@pytest.mark.parametrize("seed", [0, 1])
def test_trots_at_half_a_metre_per_second_without_falling(trot_env, seed):
    """3 s (1 s ramp) under OSQP: no fall, planar velocity error RMS after the ramp below 0.06 m/s
    (measured 0.038 on both seeds), 1 m covered (measured 1.13), little sideways drift (measured < 4 cm)."""
    controller = build(trot_env)
    ticks, errors, observation = trot(trot_env, controller, 3.0, seed)
    assert ticks == 3000
    rms = np.sqrt(np.mean(np.sum(errors[1500:, :2] ** 2, axis=1)))
    assert rms < 0.06
    assert observation[3] > 1.0 and abs(observation[4]) < 0.15
    assert controller.solves == 300 and controller.failed_solves == 0
    assert controller.activity[CPU_MACS] > 0


def test_failed_solves_apply_the_standing_forces(trot_env):
    """A box the solver cannot meet (fz_min above fz_max, which the config refuses, set on the built model):
    every solve reports infeasible, the controller counts it, applies m g / n on the stance feet (the safe
    command), and never a non-finite action."""
    controller = build(trot_env, max_normal_force_n=100.0, stand_s=1.0)
    controller.mpc.min_normal_force_n = 200.0
    ticks, _, _ = trot(trot_env, controller, 0.05, 0)
    assert ticks == 50
    assert controller.failed_solves == controller.solves == 5
    assert set(controller.status_counts) == {STATUS_INFEASIBLE}
    weight = trot_env.unwrapped.body_mass_kg * GRAVITY_MPS2
    np.testing.assert_allclose(controller.forces_n[:, 2], weight / 4)


def test_config_mistakes_are_one_line_errors(tmp_path, trot_env):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: quadruped_mpc\nduty_factor: 1.5\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: duty_factor: .*0.9"):
        load_controller_config(path)
    path.write_text("kind: quadruped_mpc\nstate_weights: [1, 2, 3]\n")
    with pytest.raises(ConfigError, match=r"state_weights: expected a list of 12 items"):
        load_controller_config(path)
    path.write_text("kind: quadruped_mpc\nmin_normal_force_n: 200\nmax_normal_force_n: 100\n")
    with pytest.raises(ConfigError, match=r"min_normal_force_n: expected at most max_normal_force_n"):
        load_controller_config(path)
    path.write_text("kind: quadruped_mpc\nsolver: qpoases\n")
    with pytest.raises(ConfigError, match=r"solver: expected one of 'osqp', 'daqp'"):
        load_controller_config(path)
    cartpole = gymnasium.make("neuroctl/CartPoleBalance-v0")
    kind, config = load_controller_config(CONFIGS / "quadruped_mpc_osqp.yaml")
    with pytest.raises(ConfigError, match=r"kind: 'quadruped_mpc' needs a legged robot"):
        build_controller(kind, config, None, cartpole.observation_space.shape[0], "q.yaml", cartpole.unwrapped)
    cartpole.close()


def test_whitened_qp_has_the_same_solution_with_an_identity_hessian():
    """The trot QP with friction tight enough to bind (mu 0.05 while the plan accelerates): solved in the
    whitened coordinates (H = I, fixed swing forces substituted, box and pyramids as dense rows) and
    mapped back, it is OSQP's direct solution; its Hessian's condition number was ~1e4."""
    mpc = CentroidalMPC(MASS_KG, INERTIA_KGM2, 4, 10, 0.03, WEIGHTS, 1e-5, 0.05, 150.0)
    x0 = np.zeros(STATE_SIZE)
    x0[5], x0[GRAVITY] = 0.27, -GRAVITY_MPS2
    reference = standing_reference(mpc, x0)
    reference[:, 9] = 1.0
    contacts = np.ones((mpc.horizon, 4))
    contacts[:, [1, 2]] = 0.0
    mpc.build(x0, reference, np.tile(STANDING_FEET_M, (mpc.horizon, 1, 1)), contacts)
    qp = qp_of(mpc)
    direct = OSQPSolver(eps_abs=1e-9, eps_rel=1e-9, max_iter=100_000).solve(qp)
    eigenvalues = np.linalg.eigvalsh(qp.H[np.ix_(qp.upper > qp.lower, qp.upper > qp.lower)])
    assert eigenvalues[-1] / eigenvalues[0] > 1e3
    whitening = Whitening()
    whitened, _ = whitening.whiten(qp, None)
    np.testing.assert_array_equal(whitened.H, np.eye(whitened.n_variables))
    assert whitened.n_variables == 60  # the two stance feet of 10 steps
    solved = OSQPSolver(eps_abs=1e-9, eps_rel=1e-9, max_iter=100_000).solve(whitened)
    unconstrained = -whitened.q
    assert np.max(whitened.G @ unconstrained - whitened.h) > 1.0  # the pyramids bind
    u = whitening.recover(solved.u, np.zeros(qp.n_variables))
    np.testing.assert_allclose(u, direct.u, atol=1e-3)
    np.testing.assert_allclose(qp.objective(u), direct.objective, rtol=1e-6)
    assert qp.max_violation(u) < 1e-6
    assert whitening.macs == 60**3 // 3 + qp.n_constraints * 60 * 60 // 2 + 3 * 60 * 60 // 2


def test_trot_moves_the_diagonal_pairs_together_for_the_duty_factor():
    clock = GaitClock(0.36, 0.6)
    stance = np.array([clock.stance(t, np.zeros(4)).copy() for t in np.arange(0.0, 0.36, 0.001)])
    np.testing.assert_array_equal(stance[:, 0], stance[:, 3])  # FR with RL
    np.testing.assert_array_equal(stance[:, 1], stance[:, 2])  # FL with RR
    np.testing.assert_allclose(stance.mean(axis=0), 0.6, atol=2e-3)
    np.testing.assert_allclose(np.mean(stance.sum(axis=1) == 4), 2 * 0.6 - 1, atol=6e-3)  # both pairs down
    assert not np.any(stance.sum(axis=1) < 2)  # never fewer than a diagonal pair
    touchdown = clock.time_to_touchdown(0.1, np.zeros(4))
    np.testing.assert_allclose(touchdown, [0.26, 0.08, 0.08, 0.26])
    assert np.all(clock.stance(0.1 + touchdown + 1e-9, np.zeros(4)) == 1.0)


def test_swing_trajectory_lifts_and_lands_with_matching_velocity():
    start, end = np.array((0.1, -0.13, -0.25)), np.array((0.2, -0.12, -0.26))
    position, velocity = np.zeros(3), np.zeros(3)
    swing_s = 0.144
    samples = np.linspace(0.0, 1.0, 2001)
    path = []
    for s in samples:
        swing_trajectory(s, start, end, 0.08, swing_s, position, velocity)
        path.append((position.copy(), velocity.copy()))
    positions, velocities = np.array([p for p, _ in path]), np.array([v for _, v in path])
    np.testing.assert_allclose(positions[0], start)
    np.testing.assert_allclose(positions[-1], end)
    np.testing.assert_allclose(positions[1000, 2], -0.25 + 0.08)  # the apex: higher end + clearance
    np.testing.assert_allclose(velocities[[0, -1], :2], 0.0, atol=1e-12)  # lands without sliding
    numeric = np.gradient(positions, samples * swing_s, axis=0)
    np.testing.assert_allclose(velocities[1:-1], numeric[1:-1], atol=2e-3)


def test_raibert_foothold():
    """Hip at (0.18, -0.13): at the commanded velocity the foot lands half a stance ahead of the hip; a
    velocity error moves it by the gain times the error; a yaw rate adds the hip's own velocity."""
    out = np.zeros(3)
    raibert_foothold(np.array((0.18, -0.13, 0.0)), np.array((0.5, 0.0)), 0.0, np.array((0.5, 0.0)), 0.0,
                     0.2, 0.03, -0.25, out)
    np.testing.assert_allclose(out, (0.18 + 0.05, -0.13, -0.25))
    raibert_foothold(np.array((0.18, -0.13, 0.0)), np.array((0.7, 0.1)), 0.0, np.array((0.5, 0.0)), 0.0,
                     0.2, 0.03, -0.25, out)
    np.testing.assert_allclose(out[:2], (0.18 + 0.07 + 0.006, -0.13 + 0.01 + 0.003))
    raibert_foothold(np.array((0.18, -0.13, 0.0)), np.zeros(2), 1.0, np.zeros(2), 1.0, 0.2, 0.03, -0.25, out)
    np.testing.assert_allclose(out[:2], (0.18 + 0.13 * 0.1, -0.13 + 0.18 * 0.1))


def test_a_reset_controller_acts_as_a_fresh_one(trot_env):
    """After an episode of another seed, reset gives the same actions, bit for bit, as a new controller
    (no warm start, scaling, lift-off point or plan carried over), spiking PIPG."""

    def actions(controller, seed):
        robot = trot_env.unwrapped
        observation, _ = trot_env.reset(seed=seed)
        controller.reset(seed)
        reference, out = np.zeros(3), []
        for _ in range(300):
            robot.reference(reference)
            action = controller.act(np.asarray(observation, dtype=np.float64), reference)
            out.append(action.copy())
            observation, *_ = trot_env.step(action)
        return np.array(out)

    # the environment's reset is bit for bit a new one's (tests/test_runner_reuse.py), so only the
    # controller's history differs: an episode of seed 3 first
    used = build(trot_env, "quadruped_mpc")
    actions(used, 3)
    reused = actions(used, 4)
    np.testing.assert_array_equal(reused, actions(build(trot_env, "quadruped_mpc"), 4))


def test_a_solve_spread_over_ticks_adopts_the_one_tick_plan_from_the_replan_tick(trot_env):
    """solve_ticks 4 (PIPG, 200 iterations as 4 x 50, or 11 and 3 x 63): the first replan's QP is built on tick 0 (the
    standing forces hold meanwhile) and its plan, adopted on tick 4 with its time origin at tick 0, is
    the plan one tick's solve makes, bit for bit. A spread needs a PIPG solver and fewer ticks than
    there are between replans."""
    observation, _ = trot_env.reset(seed=0)
    observation = np.asarray(observation, dtype=np.float64)
    reference = np.array((0.5, 0.0, 0.0))
    one_tick = build(trot_env, "quadruped_mpc")
    one_tick.act(observation, reference)
    spread = build(trot_env, "quadruped_mpc", solve_ticks=4)
    weight = trot_env.unwrapped.body_mass_kg * GRAVITY_MPS2
    spread.act(observation, reference)
    assert spread.solves == 0 and spread.forces_n[:, 2].sum() == pytest.approx(weight)
    for tick in range(1, 5):
        trot_env.unwrapped.steps = tick  # the controller's clock: the robot's control periods
        spread.act(observation, reference)
        assert spread.solves == (1 if tick == 4 else 0)
    np.testing.assert_array_equal(spread.last_solution, one_tick.last_solution)
    assert spread.plan_tick == 0 and spread.solve_iterations == [200]
    uneven = build(trot_env, "quadruped_mpc", solve_ticks=4, first_chunk_iterations=11)
    assert uneven.chunk_iterations == [11, 63, 63, 63]
    for tick in range(5):
        trot_env.unwrapped.steps = tick
        uneven.act(observation, reference)
    np.testing.assert_array_equal(uneven.last_solution, one_tick.last_solution)
    with pytest.raises(ValueError, match=r"first_chunk_iterations: expected at most .* = 197 .*got 198"):
        build(trot_env, "quadruped_mpc", solve_ticks=4, first_chunk_iterations=198)
    with pytest.raises(ValueError, match="first_chunk_iterations: expected null with solve_ticks 1"):
        build(trot_env, "quadruped_mpc", first_chunk_iterations=10)
    with pytest.raises(ValueError, match="solve_ticks: expected 1 for solver osqp"):
        build(trot_env, solve_ticks=4)
    with pytest.raises(ValueError, match="solve_ticks: expected fewer than the 10 control ticks between replans"):
        build(trot_env, "quadruped_mpc", solve_ticks=10)


def test_each_episode_starts_the_spectrum_tracker_from_the_standing_qp():
    """The first weight load of an episode tracks from the standing QP's eigenvectors (4 power steps)
    instead of computing the spectrum exactly (3.2 ms, a miss at 2 ms ticks): no cold start in it."""
    env = gymnasium.make("neuroctl/QuadrupedTrot-v0")
    kind, config = load_controller_config(CONFIGS / "quadruped_mpc.yaml")
    controller = build_controller(kind, config, None, env.observation_space.shape[0], "quadruped_mpc", env.unwrapped)
    try:
        observation, _ = env.reset(seed=3)
        controller.reset(3)
        assert controller.solver.spectrum.cold_starts == 0
        controller.act(np.asarray(observation, np.float64), np.zeros(controller.reference_size))
        assert controller.solves == 1 and controller.solver.spectrum.cold_starts == 0
    finally:
        env.close()
