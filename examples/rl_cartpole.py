"""Train Stable-Baselines3 PPO and SAC on neuroctl/CartPoleBalance-v0 and report the learning curve.

    pip install -e '.[rl]'        # stable-baselines3 and the CPU build of torch
    python examples/rl_cartpole.py --steps 100000

The settings a learner needs (see the env's docstring): a 10 ms control period with the episode set in
seconds (`episode_s`, so that returns compare across periods), the reward minus the task cost
(`reward="task_cost"`: what `neuroctl eval` scores), and a discount of 0.995-0.999 (a 10 s episode is
1000 steps; 0.99 looks ~1 s ahead). The observation bounds are the task's own, so VecNormalize or
gymnasium's RescaleObservation are safe. Each evaluation prints the mean return (minus the summed task
cost; 0 is perfect) and the success rate (balanced until the end of the episode) over a few seeds.
"""

from __future__ import annotations

import argparse

import gymnasium
import numpy as np

import neuroctl  # noqa: F401  (registers the ids)

ENV_KWARGS = dict(control_period_s=0.01, episode_s=5.0, reward="task_cost")


def evaluate(model, episodes: int = 5) -> tuple[float, float]:
    env = gymnasium.make("neuroctl/CartPoleBalance-v0", **ENV_KWARGS)
    returns, successes = [], []
    for seed in range(1000, 1000 + episodes):
        observation, _ = env.reset(seed=seed)
        total, done, info = 0.0, False, {}
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, truncated, info = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
        successes.append(bool(info.get("is_success")))
    env.close()
    return float(np.mean(returns)), float(np.mean(successes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="training steps per algorithm")
    parser.add_argument("--eval-every", type=int, default=10_000, help="steps between evaluations")
    parser.add_argument("--algorithms", nargs="+", default=["PPO", "SAC"], choices=["PPO", "SAC"])
    args = parser.parse_args()

    from stable_baselines3 import PPO, SAC

    for name in args.algorithms:
        env = gymnasium.make("neuroctl/CartPoleBalance-v0", **ENV_KWARGS)
        if name == "PPO":
            model = PPO("MlpPolicy", env, gamma=0.995, n_steps=1024, batch_size=64, seed=0, verbose=0)
        else:
            model = SAC("MlpPolicy", env, gamma=0.995, learning_starts=1000, seed=0, verbose=0)
        print(f"{name}: steps, mean return (minus task cost), success rate")
        done = 0
        while done < args.steps:
            chunk = min(args.eval_every, args.steps - done)
            model.learn(chunk, reset_num_timesteps=False)
            done += chunk
            mean_return, success = evaluate(model)
            print(f"{name} {done:>8d} {mean_return:>12.1f} {success:>6.0%}", flush=True)
        env.close()


if __name__ == "__main__":
    main()
