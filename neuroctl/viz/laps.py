"""Plots per lap of a repeated target sequence (ArmReach-v0 with `laps`): the tracking error of each lap,
with and without adaptation, and the learned torque against the payload's true gravity torque.

`record_laps(env, controller, seed)` runs one episode outside the runtime loop and keeps what these plots
need beside the usual trajectory arrays (`time_s`, `controller_observation`, `action`): the controller's
adaptive torque when it has one (`adaptive_torque_nm`) and the payload's gravity torque J(q)^T m g at the
current pose from the simulator's Jacobian (`payload_torque_nm`). `lap_rms_errors(trajectory, env)` is
the RMS end-effector distance to the target (the task's tracking error, m) over each lap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

OBS_Q, OBS_EE, OBS_TARGET = slice(0, 7), slice(14, 17), slice(17, 20)


def record_laps(env, controller, seed: int) -> dict[str, np.ndarray]:
    """One episode of `env` (an unwrapped ArmReachEnv) under `controller`; the arrays by name."""
    n = env.episode_steps
    n_joints = len(env.joint_names)
    out = {"time_s": np.zeros(n), "controller_observation": np.zeros((n, env.observation_space.shape[0])),
           "action": np.zeros((n, n_joints)), "adaptive_torque_nm": np.full((n, n_joints), np.nan),
           "payload_torque_nm": np.zeros((n, n_joints)), "lap_index": np.zeros(n, dtype=np.int64)}
    reference = np.zeros(2 * n_joints)
    observation, _ = env.reset(seed=seed)
    controller.reset(seed)
    adaptive = getattr(controller, "adaptive_torque_nm", None)
    for k in range(n):
        out["time_s"][k] = env.steps * env.control_period_s
        out["controller_observation"][k] = observation
        out["lap_index"][k] = env.lap_index
        env.reference(reference)
        action = controller.act(observation.astype(np.float64), reference)
        out["action"][k] = action
        if adaptive is not None:
            out["adaptive_torque_nm"][k] = adaptive
        env.payload_gravity_torques(observation[OBS_Q].astype(np.float64), env.payload_kg, env.payload_offset_m,
                                    out["payload_torque_nm"][k])
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            for key in out:
                out[key] = out[key][: k + 1]
            break
    return out


def lap_rms_errors(trajectory: Mapping[str, np.ndarray], n_targets: int, target_hold_s: float,
                   laps: int) -> np.ndarray:
    """RMS of the end effector's distance to the target (m) over each lap's ticks."""
    observation = np.asarray(trajectory["controller_observation"], dtype=np.float64)
    time_s = np.asarray(trajectory["time_s"], dtype=np.float64)
    distance = np.linalg.norm(observation[:, OBS_EE] - observation[:, OBS_TARGET], axis=1)
    lap = np.minimum(np.floor(time_s / (n_targets * target_hold_s) + 1e-9).astype(np.int64), laps - 1)
    return np.array([np.sqrt(np.mean(distance[lap == i] ** 2)) if np.any(lap == i) else np.nan
                     for i in range(laps)])


def plot_lap_errors(errors: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Bars of the RMS tracking error per lap (mm), one group per lap, one bar per labelled run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    labels = list(errors)
    laps = max(len(v) for v in errors.values())
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(7.5, 4.0), dpi=110)
    for j, label in enumerate(labels):
        values = np.asarray(errors[label]) * 1e3
        ax.bar(np.arange(len(values)) + (j - (len(labels) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(np.arange(laps), [str(i + 1) for i in range(laps)])
    ax.set_xlabel("lap")
    ax.set_ylabel("RMS distance to the target (mm)")
    ax.set_title(title or "tracking error per lap")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_learned_torque(trajectory: Mapping[str, np.ndarray], path: str | Path, joints=(1, 3, 5),
                        title: str = "") -> Path:
    """The adaptive torque against the payload's gravity torque J^T m g over time, for some joints."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    time_s = np.asarray(trajectory["time_s"])
    learned = np.asarray(trajectory["adaptive_torque_nm"])
    true = np.asarray(trajectory["payload_torque_nm"])
    fig, axes = plt.subplots(len(joints), 1, figsize=(8.0, 2.0 * len(joints) + 0.6), dpi=110, sharex=True)
    for ax, joint in zip(np.atleast_1d(axes), joints):
        ax.plot(time_s, true[:, joint], color="black", lw=1.2, label="payload gravity torque $J^T m g$")
        ax.plot(time_s, learned[:, joint], color="tab:red", lw=0.8, alpha=0.8, label="learned torque (PES)")
        ax.set_ylabel(f"joint {joint + 1} (N m)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper right")
    np.atleast_1d(axes)[0].set_title(title or "learned torque vs the payload's gravity torque")
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
