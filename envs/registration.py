"""Gymnasium ids of the neuroctl environments, registered on `import neuroctl`."""

import gymnasium

ENV_IDS = {
    "neuroctl/CartPoleBalance-v0": ("neuroctl.envs.cartpole:CartPoleBalanceEnv", 1000),
    # 6 targets x 2 s at the default 1 ms control period: the episode's natural length
    "neuroctl/ArmReach-v0": ("neuroctl.envs.arm:ArmReachEnv", 12000),
}


def register_envs() -> None:
    """Register every neuroctl environment id with gymnasium (idempotent)."""
    for env_id, (entry_point, max_episode_steps) in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps)
