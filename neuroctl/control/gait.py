"""The trot: an open-loop gait clock, Raibert footholds and swing-foot trajectories.

Gait (as in google-research/motion_imitation's `OpenloopGaitGenerator`): each foot i has a phase
phi_i(t) = (t / T + offset_i) mod 1 over the gait period T; it is in stance while phi_i < d (the duty
factor) and swings for the rest, with swing progress s = (phi_i - d) / (1 - d) in [0, 1). A trot moves
the diagonal pairs together: offsets 0 for FR and RL, 1/2 for FL and RR (feet in the order FR, FL, RR, RL).
For d > 1/2 both pairs stand together for (d - 1/2) T twice a period.

Raibert's foothold (Raibert, Legged Robots That Balance, 1986, ch. 2; the form of motion_imitation's
`RaibertSwingLegController`), in the yaw-aligned base frame, for a hip at h (base frame) moving at
v_hip = v + w_z e_z x h and commanded at v*_hip = v* + w*_z e_z x h:

    foothold_xy = h_xy + v_hip T_stance / 2 + k (v_hip - v*_hip)

(the foot lands where the hip will be halfway through the stance, plus a correction of gain k seconds
that steps towards a velocity error to cancel it), at the height the feet stand at.

Swing trajectory from the lift-off position p0 to the foothold p1 over the swing, progress s: the
horizontal position moves along the smoothstep c(s) = 3 s^2 - 2 s^3 (zero velocity at both ends), the
height along the parabola through (0, z0), (1/2, max(z0, z1) + clearance), (1, z1).

The foothold, the swing trajectory and the planar rotation are compiled (numba): the controller's
per-foot loops (`neuroctl.control.legs`) call them.
"""

from __future__ import annotations

import math

import numpy as np

from neuroctl.network.jit import cached_njit

TROT_OFFSETS = (0.0, 0.5, 0.5, 0.0)
"""Phase offsets of FR, FL, RR, RL for a trot: the diagonal pairs FR+RL and FL+RR in antiphase."""


class GaitClock:
    """Stance and swing of each foot from the time since the gait started (the module docstring)."""

    def __init__(self, period_s: float, duty_factor: float, offsets: tuple[float, ...] = TROT_OFFSETS) -> None:
        if not 0.0 < duty_factor < 1.0:
            raise ValueError(f"duty_factor: expected a value in (0, 1), got {duty_factor}")
        self.period_s = float(period_s)
        self.duty_factor = float(duty_factor)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.stance_duration_s = self.duty_factor * self.period_s
        self.swing_duration_s = (1.0 - self.duty_factor) * self.period_s

    def phase(self, time_s: float, out: np.ndarray) -> np.ndarray:
        """phi_i(t) in [0, 1) into `out`."""
        np.mod(time_s / self.period_s + self.offsets, 1.0, out=out)
        return out

    def stance(self, time_s: float, out: np.ndarray) -> np.ndarray:
        """1.0 where a foot is in stance at `time_s`, 0.0 where it swings."""
        self.phase(time_s, out)
        np.less(out, self.duty_factor, out=out)
        return out

    def swing_progress(self, time_s: float, out: np.ndarray) -> np.ndarray:
        """s = (phi - d) / (1 - d) for swinging feet, 0 for standing ones."""
        self.phase(time_s, out)
        np.subtract(out, self.duty_factor, out=out)
        np.maximum(out, 0.0, out=out)
        out /= 1.0 - self.duty_factor
        return out

    def time_to_touchdown(self, time_s: float, out: np.ndarray) -> np.ndarray:
        """Seconds until each foot's next stance begins (0 < t <= T; a foot in stance: its next one)."""
        self.phase(time_s, out)
        np.subtract(1.0, out, out=out)
        out *= self.period_s
        return out


@cached_njit
def raibert_foothold(hip_m: np.ndarray, velocity_mps: np.ndarray, yaw_rate_radps: float,
                     command_velocity_mps: np.ndarray, command_yaw_rate_radps: float, stance_duration_s: float,
                     gain_s: float, height_m: float, out: np.ndarray) -> np.ndarray:
    """The foothold (x, y, z) in the yaw-aligned base frame of the module docstring, z = `height_m`.

    `hip_m` (3,) the hip in the base frame, `velocity_mps` / `command_velocity_mps` the planar base
    velocity (vx, vy) measured and commanded, in the same frame."""
    hip_vx = velocity_mps[0] - yaw_rate_radps * hip_m[1]
    hip_vy = velocity_mps[1] + yaw_rate_radps * hip_m[0]
    target_vx = command_velocity_mps[0] - command_yaw_rate_radps * hip_m[1]
    target_vy = command_velocity_mps[1] + command_yaw_rate_radps * hip_m[0]
    out[0] = hip_m[0] + hip_vx * stance_duration_s / 2.0 + gain_s * (hip_vx - target_vx)
    out[1] = hip_m[1] + hip_vy * stance_duration_s / 2.0 + gain_s * (hip_vy - target_vy)
    out[2] = height_m
    return out


@cached_njit
def swing_trajectory(progress: float, start_m: np.ndarray, end_m: np.ndarray, clearance_m: float,
                     swing_duration_s: float, position_out: np.ndarray, velocity_out: np.ndarray) -> None:
    """Position (m) and velocity (m/s) of the swinging foot at progress s in [0, 1] (module docstring)."""
    s = min(max(progress, 0.0), 1.0)
    blend = s * s * (3.0 - 2.0 * s)
    blend_rate = 6.0 * s * (1.0 - s) / swing_duration_s
    for axis in (0, 1):
        position_out[axis] = start_m[axis] + (end_m[axis] - start_m[axis]) * blend
        velocity_out[axis] = (end_m[axis] - start_m[axis]) * blend_rate
    z0, z1 = float(start_m[2]), float(end_m[2])
    bump = 4.0 * (max(z0, z1) + clearance_m - 0.5 * (z0 + z1))
    position_out[2] = z0 + (z1 - z0) * s + bump * s * (1.0 - s)
    velocity_out[2] = ((z1 - z0) + bump * (1.0 - 2.0 * s)) / swing_duration_s


@cached_njit
def planar_rotation(yaw_rad: float, vector: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(x, y) of `vector` rotated by `yaw_rad` about z into out[:2] (other entries untouched)."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    x, y = float(vector[0]), float(vector[1])
    out[0], out[1] = c * x - s * y, s * x + c * y
    return out
