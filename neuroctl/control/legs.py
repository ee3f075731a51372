"""The trot controller's per-foot work in compiled loops (`neuroctl.control.quadruped_mpc` calls them).

Two calls: `leg_torques` every control tick (stance feet -J'R'f, swing feet the task-space PD towards
their swing trajectory, the torque limits, the action) and `lever_arms` on a replan tick (where each
foot stands during each step of the horizon). As Python loops over four feet of 3-vectors they took
0.15-0.3 ms a tick on this VM, most of it interpreter overhead around a few hundred multiplications.
The maths is the controller's (its module docstring); the footholds and swing trajectories are
`neuroctl.control.gait`'s, compiled.
"""

from __future__ import annotations

from neuroctl.control.centroidal import PX, PY, PZ, YAW
from neuroctl.control.gait import planar_rotation, raibert_foothold, swing_trajectory
from neuroctl.network.jit import cached_njit


@cached_njit
def leg_torques(stance, forces_n, rotation, jacobians, qd, feet_m, previous_stance, liftoff_m, progress, hips_m,
                planar_velocity, yaw_rate, command, stance_duration_s, swing_duration_s, foothold_gain_s,
                foothold_height_m, swing_height_m, kp, kd, limits_nm, scratch, torque_nm, action):
    """Joint torques of one tick into `torque_nm`, and `action` = torque / limit after clipping to the limits.

    A foot in stance (`stance` nonzero) with a planned normal force (forces_n[foot, 2] > 0; world frame):
    tau_leg = -J' R' f. Any other foot swings (its `stance` set to 0): on the tick it leaves stance
    (`previous_stance`) its lift-off point is the foot's position; its target is the swing trajectory at
    `progress` (1 where that is 0: a foot the gait puts in stance without force is held at its foothold)
    from lift-off to the Raibert foothold (the measured `planar_velocity` (vx, vy) in the heading frame,
    `yaw_rate`, the command), and tau_leg = J' (Kp (p* - p) + Kd (v* - J qd)), in the base frame.
    `previous_stance` is updated to the tick's stance. `scratch` (4, 3): work rows."""
    foothold, target, target_velocity, vector = scratch[0], scratch[1], scratch[2], scratch[3]
    for foot in range(stance.shape[0]):
        jacobian = jacobians[foot]
        first = 3 * foot
        if stance[foot] != 0.0 and forces_n[foot, 2] > 0.0:
            for a in range(3):  # R' f: the force in the base frame
                vector[a] = rotation[0, a] * forces_n[foot, 0] + rotation[1, a] * forces_n[foot, 1] \
                    + rotation[2, a] * forces_n[foot, 2]
            for j in range(3):
                torque_nm[first + j] = -(jacobian[0, j] * vector[0] + jacobian[1, j] * vector[1]
                                         + jacobian[2, j] * vector[2])
            continue
        if previous_stance[foot] != 0.0:
            liftoff_m[foot, :] = feet_m[foot]
        stance[foot] = 0.0
        raibert_foothold(hips_m[foot], planar_velocity, yaw_rate, command[:2], command[2], stance_duration_s,
                         foothold_gain_s, foothold_height_m, foothold)
        swing_trajectory(progress[foot] if progress[foot] > 0.0 else 1.0, liftoff_m[foot], foothold, swing_height_m,
                         swing_duration_s, target, target_velocity)
        for a in range(3):  # the PD force
            foot_velocity = jacobian[a, 0] * qd[first] + jacobian[a, 1] * qd[first + 1] + jacobian[a, 2] * qd[first + 2]
            vector[a] = kp[a] * (target[a] - feet_m[foot, a]) + kd[a] * (target_velocity[a] - foot_velocity)
        for j in range(3):
            torque_nm[first + j] = jacobian[0, j] * vector[0] + jacobian[1, j] * vector[1] + jacobian[2, j] * vector[2]
    for foot in range(stance.shape[0]):
        previous_stance[foot] = stance[foot]
    for j in range(torque_nm.shape[0]):
        torque_nm[j] = min(max(torque_nm[j], -limits_nm[j]), limits_nm[j])
        action[j] = torque_nm[j] / limits_nm[j]


@cached_njit
def lever_arms(stance, contacts, time_to_touchdown_s, step_s, x_ref, centres_m, feet_world_m, com_offset_z_m,
               hips_m, planar_velocity, yaw_rate, command, stance_duration_s, foothold_gain_s, foothold_height_m,
               scratch, offsets_m):
    """r_i at every step of the horizon into `offsets_m` (N, n_feet, 3), world frame, from p_ref(step k)
    (`centres_m`, (N, 3)): a foot standing now (`stance`) stays where it stands (`feet_world_m`) for the
    leading steps of its `contacts` column that are stance; after those, and for a swinging foot from
    step 0, it stands at its Raibert foothold (as in `leg_torques`) placed from the reference pose
    x_ref at its touchdown (the step before int(time_to_touchdown / step_s), clamped into the horizon;
    the foothold's height below the base is relative to the reference's centre of mass height less
    `com_offset_z_m`). `scratch` (3, 3): work rows."""
    horizon = contacts.shape[0]
    foothold, rotated, landing = scratch[0], scratch[1], scratch[2]
    for foot in range(stance.shape[0]):
        landed = stance[foot] != 0.0
        standing = 0
        if landed:
            standing = horizon
            for k in range(horizon):
                if contacts[k, foot] == 0.0:
                    standing = k
                    break
        touchdown_step = horizon if landed else int(time_to_touchdown_s[foot] / step_s)
        raibert_foothold(hips_m[foot], planar_velocity, yaw_rate, command[:2], command[2], stance_duration_s,
                         foothold_gain_s, foothold_height_m, foothold)
        at = x_ref[max(min(touchdown_step, horizon) - 1, 0)]
        planar_rotation(at[YAW], foothold, rotated)
        landing[0] = at[PX] + rotated[0]
        landing[1] = at[PY] + rotated[1]
        landing[2] = at[PZ] - com_offset_z_m + foothold[2]
        for k in range(horizon):
            source = feet_world_m[foot] if k < standing else landing
            for a in range(3):
                offsets_m[k, foot, a] = source[a] - centres_m[k, a]
