"""Gymnasium ids of the neuroctl environments, registered on `import neuroctl`."""

import gymnasium

# No TimeLimit: each env truncates itself after its `episode_s` (default: 1000 control periods for the
# cart-pole, 12000 for the arm, the natural length of 6 targets x 2 s at 1 ms; 10000 for the quadruped, 10 s at 1 ms), so that an episode set
# in seconds is not cut by a step count made for another control period.
ENV_IDS = {
    "neuroctl/CartPoleBalance-v0": "neuroctl.envs.cartpole:CartPoleBalanceEnv",
    "neuroctl/ArmReach-v0": "neuroctl.envs.arm:ArmReachEnv",
    "neuroctl/QuadrupedTrot-v0": "neuroctl.envs.quadruped:QuadrupedTrotEnv",
}
"""id -> entry point."""


def register_envs() -> None:
    """Register every neuroctl environment id with gymnasium (idempotent), without a TimeLimit."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)
