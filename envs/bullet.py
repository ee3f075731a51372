"""One private PyBullet physics server per environment instance, shared by the neuroctl robots.

Every call passes `physicsClientId`, so several environments live side by side in one process without
touching PyBullet's default client. The hot path of an environment calls `pybullet` functions directly
with `scene.client_id` (a wrapper per call would cost more than the physics step of a small robot).

PyBullet's C code prints a banner ("pybullet build time: ...") when the module initialises (on stderr
or stdout depending on the build), and may print from `connect`. Both happen here with file descriptors
1 and 2 pointed at /dev/null (see `c_output_silenced`), so import `pybullet` from this module (or after
it): a plain `import pybullet` first elsewhere prints the banner.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from neuroctl.envs.checks import in_range


def _flush_c_stdio() -> None:
    """fflush(NULL): write out every C stdio buffer now (a block-buffered stdout would otherwise write
    at exit, whatever fd 1 then points to)."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to load by name (Windows)
        pass


@contextmanager
def c_output_silenced() -> Iterator[None]:
    """Discard everything written to file descriptors 1 and 2 inside the block, C printf included.

    Python's and C's buffers are flushed before fds 1 and 2 go to /dev/null, and C's again before they
    come back, so nothing written inside surfaces later. Process-wide while it lasts (keep the block
    short: other threads' output is lost too). Without fds 1 and 2 (a daemon) it silences nothing.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed or broken stream
            pass
    _flush_c_stdio()
    saved: list[int] = []
    try:
        saved.append(os.dup(1))
        saved.append(os.dup(2))
    except OSError:  # fd 1 or 2 closed
        for fd in saved:
            os.close(fd)
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        _flush_c_stdio()  # before fd 1 is restored, so the silenced text goes to /dev/null
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


with c_output_silenced():
    import pybullet
import pybullet_data  # noqa: E402  (pure Python)

STANDARD_GRAVITY_M_S2 = 9.81


class BulletScene:
    """A PyBullet server in DIRECT mode with a fixed physics period and gravity along -z.

    `physics_period_s` is the duration of one physics substep in seconds; `step(n)` runs n of them in
    one `stepSimulation` call. Overlapping pairs are processed in a sorted order
    (`deterministicOverlappingPairs`): otherwise the broadphase's order depends on how the bodies moved
    before, and a reset after an episode of the trotting quadruped stepped 4e-6 away from a fresh
    server's within 40 ms.
    """

    def __init__(self, physics_period_s: float, gravity_m_s2: float = STANDARD_GRAVITY_M_S2) -> None:
        physics_period_s = in_range("physics_period_s", physics_period_s, "a period", 0.0, 1.0, "s", open_low=True)
        gravity_m_s2 = in_range("gravity_m_s2", gravity_m_s2, "an acceleration", -1e3, 1e3, "m/s^2")
        with c_output_silenced():
            client_id = pybullet.connect(pybullet.DIRECT)
        if client_id < 0:
            raise RuntimeError("PyBullet could not start a physics server (connect(DIRECT) returned -1)")
        self.client_id: int = client_id
        self.physics_period_s = physics_period_s
        pybullet.setGravity(0.0, 0.0, -gravity_m_s2, physicsClientId=self.client_id)
        pybullet.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=self.client_id)
        self._substeps_per_call = 0
        self._set_substeps_per_call(1)

    def steps_exactly(self, n_substeps: int) -> bool:
        """Whether `step(n_substeps)` runs exactly n substeps of `physics_period_s` every call.

        Bullet's fixed-step mode integrates int(t / h) substeps of h = T / n (T = n x period, the time
        asked of a call) and keeps the remainder t - int(t / h) h for the next call. When h is the period
        bit for bit and T / h rounds to n, the remainder is exactly zero and stays zero."""
        call_s = n_substeps * self.physics_period_s
        substep_s = call_s / n_substeps
        return substep_s == self.physics_period_s and int(call_s / substep_s) == n_substeps

    def step(self, n_substeps: int) -> None:
        """Advance `n_substeps` physics periods in one `stepSimulation` call (Bullet's internal substeps:
        the integration steps of n calls of one period, bit for bit, with the joint torques and external
        forces applied before the call held over all of them; PyBullet clears them after the call).
        `steps_exactly(n_substeps)` must hold."""
        self.set_substeps_per_call(n_substeps)
        pybullet.stepSimulation(self.client_id)  # positional: no keyword dict

    def set_substeps_per_call(self, n_substeps: int) -> None:
        """Make each stepSimulation call run `n_substeps` physics periods (`step`'s condition holds)."""
        if n_substeps != self._substeps_per_call:
            self._set_substeps_per_call(n_substeps)

    def _set_substeps_per_call(self, n_substeps: int) -> None:
        if not self.steps_exactly(n_substeps):
            raise ValueError(f"{n_substeps} substeps of {self.physics_period_s} s do not add up exactly "
                             "in floating point: step them one call each")
        pybullet.setPhysicsEngineParameter(fixedTimeStep=n_substeps * self.physics_period_s,
                                           numSubSteps=n_substeps, physicsClientId=self.client_id)
        self._substeps_per_call = n_substeps

    @property
    def connected(self) -> bool:
        """True until `close()`."""
        return self.client_id >= 0

    def load_data_urdf(self, file_name: str, fixed_base: bool = True) -> int:
        """Load a URDF shipped with `pybullet_data` at the origin; return its body id."""
        path = os.path.join(pybullet_data.getDataPath(), file_name)
        return pybullet.loadURDF(path, useFixedBase=fixed_base, physicsClientId=self.client_id)

    def disable_joint_motors(self, body_id: int, joint_indices: Iterable[int]) -> None:
        """Turn off PyBullet's default velocity motors (zero maximum force) so that forces act freely."""
        for joint in joint_indices:
            pybullet.setJointMotorControl2(
                body_id, joint, pybullet.VELOCITY_CONTROL, force=0.0, physicsClientId=self.client_id
            )

    @contextmanager
    def preserved_state(self) -> Iterator[None]:
        """Run the body of the `with` block, then put the simulation back exactly as it was.

        Uses saveState/restoreState (about 1 ms) and removes the saved state afterwards.
        """
        state_id = pybullet.saveState(physicsClientId=self.client_id)
        try:
            yield
        finally:
            pybullet.restoreState(stateId=state_id, physicsClientId=self.client_id)
            pybullet.removeState(state_id, physicsClientId=self.client_id)

    def render_rgb(self, view_matrix, projection_matrix, width: int, height: int) -> np.ndarray:
        """One frame from the CPU TinyRenderer as a uint8 array of shape (height, width, 3)."""
        _, _, rgba, _, _ = pybullet.getCameraImage(
            width,
            height,
            viewMatrix=view_matrix,
            projectionMatrix=projection_matrix,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
            physicsClientId=self.client_id,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def close(self) -> None:
        """Disconnect the server; calling it again does nothing."""
        if self.connected:
            pybullet.disconnect(physicsClientId=self.client_id)
            self.client_id = -1

    def __del__(self) -> None:
        """A scene collected without `close()` disconnects its server (each holds tens of MB)."""
        try:
            self.close()
        except Exception:  # interpreter shutdown: pybullet may be gone already
            pass

    def __reduce__(self):
        raise TypeError("a BulletScene owns a PyBullet physics server and cannot be pickled or copied; "
                        "pickle the environment instead (it rebuilds its own server)")
