"""A control period of several physics substeps runs as one stepSimulation call (Bullet's internal
substeps) when nothing changes within it, and as one call per substep otherwise (a push acting, a
command that follows the state within the period): both give the same simulation, bit for bit."""

import numpy as np
import pytest

from neuroctl.envs.arm import ArmReachEnv
from neuroctl.envs.bullet import BulletScene, pybullet
from neuroctl.envs.cartpole import CartPoleBalanceEnv
from neuroctl.envs.quadruped import QuadrupedTrotEnv

CASES = {
    # a push from inside one period to inside another, and one covering two whole periods
    "cartpole": (CartPoleBalanceEnv, dict(control_period_s=0.01, max_force_n=6.0, pushes=[
        {"start_s": 0.055, "duration_s": 0.013, "force_n": 4.0},
        {"start_s": 0.2, "duration_s": 0.02, "force_n": -3.0}]), 60),
    "arm": (ArmReachEnv, dict(control_period_s=0.003), 60),
    "quadruped": (QuadrupedTrotEnv, dict(control_period_s=0.002, pushes=[
        {"start_s": 0.0305, "duration_s": 0.02, "force_n": 40.0}]), 40),
}


def trajectory(env, actions):
    env.reset(seed=3)
    states = []
    for action in actions:
        env.step(action)
        states.append(env.state.copy())
    return np.array(states)


@pytest.mark.parametrize("name", list(CASES))
def test_one_call_per_period_is_one_call_per_substep(build_closed, name):
    env_class, kwargs, n_steps = CASES[name]
    one_call, per_substep = build_closed(env_class, **kwargs), build_closed(env_class, **kwargs)
    per_substep.command_held_over_substeps = False  # every substep its own call, as a friction arm's
    actions = np.random.default_rng(8).uniform(-1.0, 1.0, size=(n_steps, one_call.action_space.shape[0]))
    expected = trajectory(per_substep, actions)
    np.testing.assert_array_equal(trajectory(one_call, actions), expected)
    assert np.ptp(expected, axis=0).max() > 1e-3  # the robot moved
    parameters = pybullet.getPhysicsEngineParameters(physicsClientId=one_call.scene.client_id)
    assert parameters["numSubSteps"] == one_call.n_substeps  # the last period was one call
    assert parameters["fixedTimeStep"] == pytest.approx(one_call.control_period_s, rel=1e-12)


def test_a_friction_arm_steps_every_substep_on_its_own(build_closed):
    env = build_closed(ArmReachEnv, control_period_s=0.003, joint_viscous_nms=0.5)
    assert not env.command_held_over_substeps
    env.reset(seed=1)
    env.step(np.zeros(7))
    assert pybullet.getPhysicsEngineParameters(physicsClientId=env.scene.client_id)["numSubSteps"] == 1


def test_substeps_that_do_not_add_up_exactly_are_refused():
    scene = BulletScene(0.1)
    try:
        assert scene.steps_exactly(1) and scene.steps_exactly(2)
        assert not scene.steps_exactly(3)  # 0.3 / 3 is not 0.1 in floating point
        with pytest.raises(ValueError, match="do not add up exactly"):
            scene.step(3)
    finally:
        scene.close()
