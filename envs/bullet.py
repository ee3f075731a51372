"""One private PyBullet physics server per environment instance, shared by the neuroctl robots.

Every call passes `physicsClientId`, so several environments live side by side in one process without
touching PyBullet's default client. The hot path of an environment calls `pybullet` functions directly
with `scene.client_id` (a wrapper per call would cost more than the physics step of a small robot).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import pybullet
import pybullet_data

STANDARD_GRAVITY_M_S2 = 9.81


class BulletScene:
    """A PyBullet server in DIRECT mode with a fixed physics period and gravity along -z.

    `physics_period_s` is the duration of one `stepSimulation` call in seconds.
    """

    def __init__(self, physics_period_s: float, gravity_m_s2: float = STANDARD_GRAVITY_M_S2) -> None:
        self.client_id: int = pybullet.connect(pybullet.DIRECT)
        self.physics_period_s = physics_period_s
        pybullet.setTimeStep(physics_period_s, physicsClientId=self.client_id)
        pybullet.setGravity(0.0, 0.0, -gravity_m_s2, physicsClientId=self.client_id)

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
