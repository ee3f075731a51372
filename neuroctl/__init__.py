"""neuroctl: real-time robot control with recurrent spiking networks.

Importing the package is cheap: it registers the gymnasium environment ids and nothing else
(no numba compile, no PyBullet connection).
"""

from neuroctl.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()
